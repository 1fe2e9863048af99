/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.dmcow.format.BaseImage;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FormatException;

/**
 * Stands in for the kernel's data path: a guest write to a chunk without a place gets one from the
 * space, the chunk is filled (copied from the base or zeroed) and the write lands in the qcow2
 * file at the place; {@link #commit} flushes the data and then commits the pending mappings.
 * Tracks the expected guest-visible content.
 */
final class DataPathDouble implements AutoCloseable {
    private final CowSpace space;
    private final BaseImage base;
    private final FileChannel data;
    private final long chunk;
    final byte[] expected;
    private final Map<Long, Long> pending = new HashMap<>();

    DataPathDouble(CowSpace space, BaseImage base, Path qcow2, byte[] expected) throws IOException {
        this.space = space;
        this.base = base;
        this.data = FileChannel.open(qcow2, StandardOpenOption.WRITE);
        this.chunk = space.chunkSize();
        this.expected = expected;
    }

    /** Reads the whole base into memory: the expected content before any write. */
    static byte[] baseContent(BaseImage base) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) base.size());
        base.read(b, 0);
        return b.array();
    }

    void write(long offset, byte[] bytes) throws IOException, FormatException {
        long end = offset + bytes.length;
        for (long c = offset / chunk; c * chunk < end; c++) {
            long place = placeOf(c);
            long from = Math.max(offset, c * chunk);
            long to = Math.min(end, (c + 1) * chunk);
            writeFully(ByteBuffer.wrap(bytes, (int) (from - offset), (int) (to - from)), place + from - c * chunk);
        }
        System.arraycopy(bytes, 0, expected, (int) offset, bytes.length);
    }

    private long placeOf(long c) throws IOException, FormatException {
        long committed = space.committedPlace(c);
        if (committed >= 0) {
            return committed;
        }
        Long p = pending.get(c);
        if (p != null) {
            return p;
        }
        CowSpace.Placement placement = space.place(c);
        ByteBuffer fill = ByteBuffer.allocate((int) chunk);
        if (placement.fill() == CowSpace.Fill.COPY) {
            long n = Math.min(chunk, base.size() - c * chunk);
            base.read(fill.limit((int) n), c * chunk);
            fill.clear();
        } else {
            long n = Math.min(chunk, expected.length - c * chunk);
            java.util.Arrays.fill(expected, (int) (c * chunk), (int) (c * chunk + n), (byte) 0);
        }
        writeFully(fill, placement.place());
        pending.put(c, placement.place());
        return placement.place();
    }

    private void writeFully(ByteBuffer b, long position) throws IOException {
        long pos = position;
        while (b.hasRemaining()) {
            pos += data.write(b, pos);
        }
    }

    /** Data first, then the mappings; returns what was committed. */
    List<CowSpace.Mapping> commit() throws IOException, FormatException {
        data.force(false);
        List<CowSpace.Mapping> batch = new ArrayList<>();
        pending.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> batch.add(new CowSpace.Mapping(e.getKey(), e.getValue())));
        space.commit(batch);
        pending.clear();
        return batch;
    }

    @Override
    public void close() throws IOException {
        data.close();
    }
}
