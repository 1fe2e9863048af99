/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.SpaceFullException;

/**
 * An open native space. Commits (mappings and unmaps) go to the journal as one record per group;
 * when the journal is full the group is committed by a checkpoint instead (dirty table pages to
 * their spare copies, flush, then the checkpoint header), after which the journal starts a new
 * epoch. Closing the
 * space closes its store.
 */
final class NativeSpace implements CowSpace {
    private final CowStore store;
    private final SpaceState state;
    private final Superblock sb;
    private final byte[] uuid;
    private final int[] table;
    private final FreeSpace free;
    private final Placer placer;
    /** Reserved and adopted places not committed yet: volume chunk to data chunk. */
    private final Map<Long, Long> reserved = new HashMap<>();
    /** Data chunks unmapped durably, still in use until the owner frees them ({@link #freePlaces}). */
    private final Set<Long> unmapped;
    /** Set when a metadata write failed: what is durable is unknown until the space is reopened. */
    private IOException failed;

    NativeSpace(CowStore store, SpaceState state) {
        this.store = store;
        this.state = state;
        this.sb = state.superblock;
        this.uuid = sb.uuid();
        this.table = state.table;
        this.free = state.free;
        this.placer = new Placer(free, sb.volumeChunks(), this::dataChunkOf);
        this.unmapped = state.unmapped;
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
        for (int v = 0; v < table.length; v++) {
            if (table[v] != 0) {
                visitor.mapping(v, placeOf(Integer.toUnsignedLong(table[v]) - 1));
            }
        }
    }

    @Override
    public long committedPlace(long volumeChunk) {
        int entry = table[Math.toIntExact(volumeChunk)];
        return entry == 0 ? -1 : placeOf(Integer.toUnsignedLong(entry) - 1);
    }

    @Override
    public Placement place(long volumeChunk) throws IOException, FormatException {
        checkChunk(volumeChunk);
        if (dataChunkOf(volumeChunk) >= 0) {
            throw new IllegalStateException("chunk " + volumeChunk + " already has a place");
        }
        long d = placer.choose(volumeChunk);
        if (d < 0) {
            throw new SpaceFullException(store.path() + ": CoW space full (" + free.chunks()
                    + " data chunks, all in use)");
        }
        free.use(d);
        reserved.put(volumeChunk, d);
        return new Placement(placeOf(d), Fill.COPY);
    }

    @Override
    public void adopt(long volumeChunk, long place) throws FormatException {
        checkChunk(volumeChunk);
        long offset = place - sb.dataOffset();
        if (offset < 0 || offset % sb.chunkSize() != 0 || offset / sb.chunkSize() >= free.chunks()) {
            throw new FormatException(store.path() + ": cannot adopt place " + place + " for chunk " + volumeChunk
                    + ": not a chunk of the data area (" + sb.dataOffset() + " + " + free.chunks() + " x "
                    + sb.chunkSize() + ")");
        }
        long d = offset / sb.chunkSize();
        long current = dataChunkOf(volumeChunk);
        if (current == d) {
            return; // committed or adopted already: the kernel replays what it holds
        }
        if (current >= 0) {
            throw new FormatException(store.path() + ": cannot adopt place " + place + " for chunk " + volumeChunk
                    + ": the chunk already has place " + placeOf(current));
        }
        if (free.used(d)) {
            throw new FormatException(store.path() + ": cannot adopt place " + place + " for chunk " + volumeChunk
                    + ": another chunk uses it");
        }
        free.use(d);
        reserved.put(volumeChunk, d);
    }

    @Override
    public void release(long volumeChunk) {
        Long d = reserved.remove(volumeChunk);
        if (d != null) {
            free.release(d);
        }
    }

    @Override
    public void commit(List<Mapping> mappings) throws IOException, FormatException {
        if (failed != null) {
            throw new IOException(store.path() + ": an earlier metadata write failed; reopen the space", failed);
        }
        long[] chunks = new long[mappings.size()];
        long[] places = new long[mappings.size()];
        int n = 0;
        Set<Long> seen = new HashSet<>();
        for (Mapping m : mappings) {
            checkChunk(m.volumeChunk());
            if (!seen.add(m.volumeChunk())) {
                throw new FormatException(store.path() + ": chunk " + m.volumeChunk() + " twice in one commit");
            }
            if (committedPlace(m.volumeChunk()) == m.place()) {
                continue; // durable already, an unmap too
            }
            if (m.place() == UNMAPPED) {
                chunks[n] = m.volumeChunk();
                places[n++] = JournalRecord.UNMAPPED;
                continue;
            }
            Long d = reserved.get(m.volumeChunk());
            if (d == null || placeOf(d) != m.place()) {
                throw new FormatException(store.path() + ": cannot commit chunk " + m.volumeChunk() + " at "
                        + m.place() + ": that place was not reserved for it");
            }
            chunks[n] = m.volumeChunk();
            places[n] = d;
            n++;
        }
        if (n == 0) {
            return;
        }
        long length = JournalRecord.length(n);
        try {
            if (hasUnmap(places, n)) {
                allowUnmapEntries();
            }
            if (state.journalUsed + length <= sb.journalSize()) {
                long seq = state.lastCommit + 1;
                store.write(JournalRecord.encode(uuid, state.checkpointSeq, seq, chunks, places, n),
                        sb.journalOffset() + state.journalUsed);
                store.flush();
                apply(chunks, places, n);
                state.journalUsed += length;
                state.lastCommit = seq;
            } else {
                // The table in memory runs ahead of the disk until the checkpoint header lands.
                apply(chunks, places, n);
                checkpoint(state.lastCommit + 1);
            }
        } catch (IOException e) {
            failed = e;
            throw e;
        }
    }

    private void apply(long[] chunks, long[] places, int n) {
        for (int i = 0; i < n; i++) {
            int v = (int) chunks[i];
            if (places[i] == JournalRecord.UNMAPPED) {
                unmapped.add(Integer.toUnsignedLong(table[v]) - 1);
                table[v] = 0;
                state.mappings--;
            } else {
                reserved.remove(chunks[i]);
                table[v] = (int) (places[i] + 1);
                state.mappings++;
            }
            state.dirtyPages.set(v / TablePage.ENTRIES);
        }
    }

    private static boolean hasUnmap(long[] places, int n) {
        for (int i = 0; i < n; i++) {
            if (places[i] == JournalRecord.UNMAPPED) {
                return true;
            }
        }
        return false;
    }

    /** Sets the unmap feature bit in both superblock copies, one at a time, before the first unmap entry. */
    private void allowUnmapEntries() throws IOException {
        Superblock current = state.superblock;
        if ((current.incompatFeatures() & Superblock.INCOMPAT_UNMAP) != 0) {
            return;
        }
        writeSuperblock(current.withIncompatFeatures(Superblock.INCOMPAT_UNMAP));
    }

    private void writeSuperblock(Superblock next) throws IOException {
        store.write(next.encode(), 0);
        store.flush();
        store.write(next.encode(), Superblock.SLOT_SIZE);
        store.flush();
        state.superblock = next;
    }

    /**
     * Writes every dirty page to its spare copy, flushes, then writes the header that makes them
     * current (in the slot not holding the current one), flushes, and starts a new journal epoch.
     */
    private void checkpoint(long lastCommit) throws IOException {
        long seq = state.nextCheckpointSeq;
        ByteBuffer page = ByteBuffer.allocate(TablePage.SIZE);
        for (int p = state.dirtyPages.nextSetBit(0); p >= 0; p = state.dirtyPages.nextSetBit(p + 1)) {
            int spare = state.copyOneCurrent.get(p) ? 0 : 1;
            TablePage.encode(page.clear(), uuid, table, p, seq);
            store.write(page.flip(), sb.pageOffset(p, spare));
        }
        store.flush();
        int slot = 1 - state.checkpointSlot;
        store.write(new CheckpointHeader(seq, lastCommit, state.mappings).encode(uuid),
                Superblock.CHECKPOINT_OFFSET + (long) slot * CheckpointHeader.SLOT_SIZE);
        store.flush();
        for (int p = state.dirtyPages.nextSetBit(0); p >= 0; p = state.dirtyPages.nextSetBit(p + 1)) {
            state.copyOneCurrent.flip(p);
        }
        state.dirtyPages.clear();
        state.checkpointSeq = seq;
        state.checkpointSlot = slot;
        state.nextCheckpointSeq = seq + 1;
        state.lastCommit = lastCommit;
        state.journalUsed = 0;
    }

    /** Records a larger data area when the store grew (both superblock copies, one at a time). */
    @Override
    public void grow() throws IOException {
        Superblock current = state.superblock;
        long fits = Math.min(Superblock.MAX_DATA_CHUNKS, (store.size() - sb.dataOffset()) / sb.chunkSize());
        if (fits <= current.dataChunks()) {
            return;
        }
        writeSuperblock(current.withDataChunks(fits));
        free.grow(fits);
    }

    @Override
    public boolean unmaps() {
        return true;
    }

    @Override
    public List<Long> unmappedPlaces() {
        List<Long> out = new ArrayList<>(unmapped.size());
        for (long d : unmapped) {
            out.add(placeOf(d));
        }
        return out;
    }

    @Override
    public void freePlaces(List<Long> places) throws IOException {
        for (long place : places) {
            long d = (place - sb.dataOffset()) / sb.chunkSize();
            if (unmapped.contains(d)) {
                store.discard(place, sb.chunkSize());
                unmapped.remove(d);
                free.release(d);
            }
        }
    }

    @Override
    public SpaceUsage usage() {
        return new SpaceUsage(free.chunks() - free.free(), free.free(), state.mappings);
    }

    @Override
    public void close() throws IOException {
        store.close();
    }

    /** The data chunk holding or reserved for a volume chunk, or -1. */
    private long dataChunkOf(long volumeChunk) {
        int entry = table[(int) volumeChunk];
        if (entry != 0) {
            return Integer.toUnsignedLong(entry) - 1;
        }
        Long d = reserved.get(volumeChunk);
        return d == null ? -1 : d;
    }

    private long placeOf(long dataChunk) {
        return sb.dataOffset() + dataChunk * sb.chunkSize();
    }

    private void checkChunk(long volumeChunk) {
        if (volumeChunk < 0 || volumeChunk >= table.length) {
            throw new IllegalArgumentException("chunk " + volumeChunk + " is outside the volume (" + table.length
                    + " chunks)");
        }
    }
}
