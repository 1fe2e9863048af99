/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;

/**
 * A native space read for the offline tools, never written: its table is read a window of pages
 * at a time as the chunks are asked for, with the journal's mappings laid over each window, so a
 * 1 TiB volume (16 M chunks, 64 MiB of table) is walked in a few MiB. Asking in increasing chunk
 * order (as {@link #forEachMapping} and the offline walks do) reads the table once. A read error
 * of the table surfaces as an {@link UncheckedIOException}, since the read methods declare none.
 */
final class NativeView implements CowSpace {
    /** Table pages per window: 2 MiB read (both copies), 1 MiB of entries held. */
    static final int PAGES_PER_WINDOW = 256;

    private final CowStore store;
    private final SpaceState state;
    private final Superblock sb;
    private final byte[] uuid;
    private final ByteBuffer raw = ByteBuffer.allocate(PAGES_PER_WINDOW * 2 * TablePage.SIZE);
    private final int[] window = new int[PAGES_PER_WINDOW * TablePage.ENTRIES];
    /** The volume chunks the window holds: {@code [windowStart, windowEnd)}. */
    private long windowStart;
    private long windowEnd;

    /** {@code state} as {@link SpaceReader#readWithoutTable} read it. */
    NativeView(CowStore store, SpaceState state) {
        this.store = store;
        this.state = state;
        this.sb = state.superblock;
        this.uuid = sb.uuid();
        // What a served space keeps in use until its next table reload is free to a reader: the
        // usage seen here is the daemon's once it has freed them, and after a restart of it.
        for (long d : state.unmapped) {
            state.free.release(d);
        }
        state.unmapped.clear();
    }

    @Override
    public long chunkSize() {
        return sb.chunkSize();
    }

    @Override
    public long volumeSize() {
        return sb.baseSize();
    }

    @Override
    public void forEachMapping(MappingVisitor visitor) {
        for (long v = 0; v < sb.volumeChunks(); v++) {
            long place = committedPlace(v);
            if (place >= 0) {
                visitor.mapping(v, place);
            }
        }
    }

    @Override
    public long committedPlace(long volumeChunk) {
        if (volumeChunk < 0 || volumeChunk >= sb.volumeChunks()) {
            throw new IllegalArgumentException("chunk " + volumeChunk + " is outside the volume ("
                    + sb.volumeChunks() + " chunks)");
        }
        if (volumeChunk < windowStart || volumeChunk >= windowEnd) {
            load(volumeChunk / TablePage.ENTRIES / PAGES_PER_WINDOW * PAGES_PER_WINDOW);
        }
        int entry = window[(int) (volumeChunk - windowStart)];
        return entry == 0 ? -1 : sb.dataOffset() + (Integer.toUnsignedLong(entry) - 1) * sb.chunkSize();
    }

    /** Reads the window of pages from {@code firstPage}: each page's current copy, then the journal's. */
    private void load(long firstPage) {
        int pages = (int) Math.min(PAGES_PER_WINDOW, sb.tablePages() - firstPage);
        try {
            raw.clear().limit(pages * 2 * TablePage.SIZE);
            store.read(raw, sb.pageOffset(firstPage, 0));
        } catch (IOException e) {
            windowEnd = windowStart; // nothing held
            throw new UncheckedIOException(store.path() + ": reading table pages from " + firstPage, e);
        }
        raw.flip();
        windowStart = firstPage * TablePage.ENTRIES;
        windowEnd = Math.min(sb.volumeChunks(), windowStart + (long) pages * TablePage.ENTRIES);
        for (int i = 0; i < pages; i++) {
            long page = firstPage + i;
            int used = (int) Math.min(TablePage.ENTRIES, sb.volumeChunks() - page * TablePage.ENTRIES);
            int at = i * 2 * TablePage.SIZE;
            int copy = TablePage.currentCopy(raw, at, uuid, page, state.checkpointSeq);
            if (copy < 0) {
                Arrays.fill(window, i * TablePage.ENTRIES, i * TablePage.ENTRIES + used, 0);
            } else {
                TablePage.decode(raw, at + copy * TablePage.SIZE, window, i * TablePage.ENTRIES, used);
            }
        }
        state.journalChunks.overlay(windowStart, (int) (windowEnd - windowStart), window, 0);
    }

    @Override
    public Placement place(long volumeChunk) {
        throw readOnly();
    }

    @Override
    public void adopt(long volumeChunk, long place) {
        throw readOnly();
    }

    @Override
    public void release(long volumeChunk) {
        throw readOnly();
    }

    @Override
    public void commit(List<Mapping> mappings) {
        throw readOnly();
    }

    private static UnsupportedOperationException readOnly() {
        return new UnsupportedOperationException("a view of a native space is read-only");
    }

    @Override
    public SpaceUsage usage() {
        return new SpaceUsage(state.free.chunks() - state.free.free(), state.free.free(), state.mappings);
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
