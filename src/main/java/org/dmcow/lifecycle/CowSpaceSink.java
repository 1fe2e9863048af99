/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.dmcow.format.BaseImage;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;

/**
 * A new CoW space of any format, filled as the daemon fills one: each chunk placed by the format,
 * its data written, and the mappings committed in groups after a flush (data before metadata), so
 * the result is a space the format itself laid out.
 */
public final class CowSpaceSink implements ImageSink {
    /** Mappings per commit group: one journal record of the native format takes about 12 KiB. */
    private static final int COMMIT_GROUP = 1024;

    private final FileCowStore store;
    private final CowSpace space;
    private final long chunkSize;
    private final List<CowSpace.Mapping> pending = new ArrayList<>();
    private ByteBuffer zeros;

    private CowSpaceSink(FileCowStore store, CowSpace space) {
        this.store = store;
        this.space = space;
        this.chunkSize = space.chunkSize();
    }

    /** Formats {@code file} (a new file) as a space of {@code format} over {@code base} and opens it. */
    public static CowSpaceSink create(CowFormat format, Path file, BaseImage base, long chunkSize)
            throws IOException, FormatException {
        format.create(new CowFormat.CreateRequest(file, base, chunkSize, OptionalLong.empty(), false));
        FileCowStore store = FileCowStore.open(file, false, null);
        try {
            return new CowSpaceSink(store, format.open(store, base));
        } catch (IOException | FormatException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    @Override
    public void data(long start, ByteBuffer bytes) throws IOException, FormatException {
        ByteBuffer src = bytes.slice();
        long first = start / chunkSize;
        int runFrom = 0;
        long runPlace = -1;
        for (int at = 0; at < src.limit(); at += (int) chunkSize) {
            long chunk = first + at / chunkSize;
            long place = space.place(chunk).place();
            pending.add(new CowSpace.Mapping(chunk, place));
            if (runPlace < 0 || place != runPlace + (at - runFrom)) {
                write(src, runFrom, at, runPlace);
                runFrom = at;
                runPlace = place;
            }
        }
        write(src, runFrom, src.limit(), runPlace);
        if (pending.size() >= COMMIT_GROUP) {
            commit();
        }
    }

    /** Writes {@code src[from, to)} at {@code place}, the last chunk padded to whole. */
    private void write(ByteBuffer src, int from, int to, long place) throws IOException {
        if (place < 0 || to <= from) {
            return;
        }
        ByteBuffer run = src.duplicate().position(from).limit(to);
        long whole = (to - from + chunkSize - 1) / chunkSize * chunkSize;
        if (whole != to - from) {
            run = ByteBuffer.allocate((int) whole).put(run).clear();
        }
        store.write(run, place);
    }

    /** A space has no zero flag: zero chunks get a place of zeros, as the daemon fills them. */
    @Override
    public void zeros(long start, long length) throws IOException, FormatException {
        if (zeros == null) {
            zeros = ByteBuffer.allocate((int) chunkSize);
        }
        for (long at = start; at < start + length; at += chunkSize) {
            data(at, zeros.clear());
        }
    }

    private void commit() throws IOException, FormatException {
        store.flush();
        space.commit(pending);
        pending.clear();
    }

    @Override
    public void finish() throws IOException, FormatException {
        commit();
    }

    @Override
    public long outputBytes() throws IOException {
        return store.size();
    }

    /** Closes the space and its store. */
    @Override
    public void close() throws IOException {
        space.close();
    }
}
