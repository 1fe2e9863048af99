/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.dmcow.format.qcow2.Qcow2Tables.OFFSET_MASK;
import static org.dmcow.format.qcow2.Qcow2Tables.ZERO;
import static org.dmcow.format.qcow2.Qcow2Tables.isData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;

import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * A qcow2 file served as a CoW space. Places are byte offsets of data clusters. Crash contract: a
 * placed cluster gets refcount 1 when placed (written, not flushed); commit hands the batch to
 * {@link Qcow2Tables#commit}, which flushes (refcounts, new L2 tables), then writes L2 entries in
 * existing tables and L1 entries for new tables, then flushes again. A crash therefore leaves at worst clusters with refcount 1 that nothing
 * references (leaks), never an entry pointing at an unreferenced or unwritten cluster. An unmap
 * (a discarded chunk) clears the L2 entry at commit and counts the cluster 0 only once it is freed,
 * after a table reload: a crash between leaks it.
 *
 * <p>Placement keeps volume locality whatever order chunks are first written in: the first chunk
 * placed of an aligned group of {@link #GROUP_CHUNKS} chunks reserves a run of as many clusters at
 * the end of the file, and each chunk of the group goes to its own slot in the run. Only the placed
 * clusters are counted; the rest of the run are holes (refcount 0, which QEMU accepts). A slot is
 * derived from a placed neighbour in the group, not remembered, so it survives a reopen.
 */
final class Qcow2Space implements CowSpace {
    /**
     * Volume chunks per placement group, and clusters per run: 1 MiB at 64 KiB clusters. A power
     * of two dividing every refcount block's range (2048 clusters and up), so no run crosses one.
     */
    static final long GROUP_CHUNKS = 16;

    private final CowStore store;
    private final long clusterSize;
    private final long volumeSize;
    private final Qcow2Tables tables;
    private final Qcow2Refcounts refcounts;
    private final Map<Long, Long> reservations = new HashMap<>();
    private final Set<Long> reservedPlaces = new HashSet<>();
    /** Released clusters, still counted 1 on disk, handed out again first. */
    private final ArrayDeque<Long> released = new ArrayDeque<>();
    /**
     * Clusters of chunks unmapped durably: unreferenced, still counted 1 (so never handed out)
     * until {@link #freePlaces} or close counts them 0; a crash leaves them leaked.
     */
    private final Set<Long> unmapped = new LinkedHashSet<>();
    private boolean autoclearPending;
    /** The image has persistent bitmaps: clusters of theirs are referenced from a directory not read here. */
    private final boolean hasBitmaps;
    private long usedClusters;
    private long mappings;
    private boolean closed;

    private Qcow2Space(CowStore store, Qcow2Header h, Qcow2Tables tables, Qcow2Refcounts refcounts) {
        this.store = store;
        this.clusterSize = h.clusterSize();
        this.volumeSize = h.size;
        this.tables = tables;
        this.refcounts = refcounts;
        this.autoclearPending = h.autoclearFeatures != 0;
        this.hasBitmaps = h.bitmaps.isPresent();
    }

    /** Reads the tables of a servable image (the header already passed requireServable). */
    static Qcow2Space load(CowStore store, Qcow2Header h) throws IOException, FormatException {
        Qcow2Tables.checkPlacement(store, h);
        Qcow2Refcounts refcounts = Qcow2Refcounts.read(store, h);
        Qcow2Tables tables = Qcow2Tables.read(store, h, refcounts);
        Qcow2Refcounts.Scan scan = refcounts.scan();
        // the last run's holes stay below the end, for its group's chunks, not for metadata
        long end = Math.max(scan.highestUsed() + 1, tables.referencedEnd());
        refcounts.setEndCluster((end + GROUP_CHUNKS - 1) / GROUP_CHUNKS * GROUP_CHUNKS);
        Qcow2Space space = new Qcow2Space(store, h, tables, refcounts);
        space.usedClusters = scan.usedClusters();
        space.mappings = tables.dataClustersAtOpen();
        return space;
    }

    /**
     * Bytes the file must span so that every data cluster lies in it whole: QEMU may leave the
     * file's last cluster partial, and the kernel sees only the file's length (a loop device).
     */
    long dataEnd() {
        return tables.dataEnd();
    }

    @Override
    public long chunkSize() {
        return clusterSize;
    }

    @Override
    public long volumeSize() {
        return volumeSize;
    }

    private long entry(long chunk) {
        return tables.entry(chunk);
    }

    @Override
    public void forEachMapping(MappingVisitor visitor) {
        tables.forEachData(volumeChunks(), visitor);
    }

    /** Chunks whose L2 entry has the zero flag (with or without a cluster), unplaced ones included. */
    @Override
    public void forEachZeroChunk(LongConsumer visitor) {
        tables.forEachZero(volumeChunks(), visitor);
    }

    @Override
    public long committedPlace(long volumeChunk) {
        checkChunk(volumeChunk);
        long e = entry(volumeChunk);
        return isData(e) ? e & OFFSET_MASK : -1;
    }

    private void checkChunk(long chunk) {
        if (chunk < 0 || chunk >= volumeChunks()) {
            throw new IllegalArgumentException(store.path() + ": chunk " + chunk + " outside the volume (0.."
                    + (volumeChunks() - 1) + ")");
        }
    }

    private void requireUnplaced(long chunk) throws FormatException {
        checkChunk(chunk);
        if (closed) {
            throw new FormatException(store.path() + ": CoW space is closed");
        }
        if (isData(entry(chunk))) {
            throw new FormatException(store.path() + ": chunk " + chunk + " is already mapped");
        }
        if (reservations.containsKey(chunk)) {
            throw new FormatException(store.path() + ": chunk " + chunk + " already has a reserved place");
        }
    }

    /** Clears autoclear bits (dirty bitmaps, raw external data) that this writer does not maintain. */
    private void beforeFirstWrite() throws IOException {
        if (autoclearPending) {
            store.write(ByteBuffer.allocate(8), Qcow2Header.OFF_AUTOCLEAR);
            store.flush();
            autoclearPending = false;
        }
    }

    @Override
    public Placement place(long volumeChunk) throws IOException, FormatException {
        requireUnplaced(volumeChunk);
        beforeFirstWrite();
        long e = entry(volumeChunk);
        Fill fill = (e & ZERO) != 0 ? Fill.ZERO : Fill.COPY;
        long place;
        if ((e & ZERO) != 0 && (e & OFFSET_MASK) != 0) {
            // an allocated zero cluster: keep its cluster, clear the flag at commit
            place = e & OFFSET_MASK;
        } else {
            place = slotBesideNeighbour(volumeChunk);
            if (place < 0 && !released.isEmpty()) {
                place = released.poll();
                countAgain(place);
            } else if (place < 0) {
                // the group's first chunk, or its slot is held: a new run for the group
                place = refcounts.allocateInRun(GROUP_CHUNKS, volumeChunk % GROUP_CHUNKS) * clusterSize;
                usedClusters++;
            }
        }
        reservations.put(volumeChunk, place);
        reservedPlaces.add(place);
        return new Placement(place, fill);
    }

    /**
     * The chunk's slot in the run of its nearest placed neighbour in its group (committed, reserved
     * or an allocated zero cluster), taken if free; else -1. Nearest first: that neighbour is the one
     * a segment would join.
     */
    private long slotBesideNeighbour(long chunk) throws IOException, FormatException {
        long first = chunk - chunk % GROUP_CHUNKS;
        long end = Math.min(first + GROUP_CHUNKS, volumeChunks());
        for (long d = 1; d < GROUP_CHUNKS; d++) {
            // the neighbours d chunks before and after
            for (long n = chunk - d; n <= chunk + d; n += 2 * d) {
                if (n < first || n >= end) {
                    continue;
                }
                long at = placeOf(n);
                if (at > 0 && takeFree(at + (chunk - n) * clusterSize)) {
                    return at + (chunk - n) * clusterSize;
                }
            }
        }
        return -1;
    }

    /** Where a chunk is or will be stored: its reservation or its entry's cluster; 0 if none. */
    private long placeOf(long chunk) {
        Long reserved = reservations.get(chunk);
        return reserved != null ? reserved : entry(chunk) & OFFSET_MASK;
    }

    /**
     * Takes a cluster nothing holds: a released one, or a hole no table, mapping or reservation
     * references. Returns whether it did.
     */
    private boolean takeFree(long place) throws IOException, FormatException {
        long cluster = place / clusterSize;
        if (place <= 0 || cluster >= refcounts.endCluster() || tables.isReferenced(cluster)
                || reservedPlaces.contains(place)) {
            return false;
        }
        if (released.remove(place)) {
            countAgain(place);
            return true;
        }
        if (!refcounts.isHole(cluster)) {
            return false;
        }
        refcounts.allocateHole(cluster);
        usedClusters++;
        return true;
    }

    /** A released place handed out again: an adopted place released before its commit has refcount 0. */
    private void countAgain(long place) throws IOException {
        if (refcounts.get(place / clusterSize) == 0) {
            refcounts.set(place / clusterSize, 1);
        }
    }

    @Override
    public void adopt(long volumeChunk, long place) throws FormatException {
        requireUnplaced(volumeChunk);
        long e = entry(volumeChunk);
        boolean ownZeroCluster = (e & ZERO) != 0 && (e & OFFSET_MASK) == place && place != 0;
        long cluster = place / clusterSize;
        if (place <= 0 || place % clusterSize != 0 || cluster >= refcounts.endCluster()) {
            throw new FormatException(store.path() + ": cannot adopt place " + place + " for chunk " + volumeChunk
                    + ": not a cluster in the data area");
        }
        if (!refcounts.covers(cluster)) {
            throw new FormatException(store.path() + ": cannot adopt place " + place + " for chunk " + volumeChunk
                    + ": no refcount block describes it, so it was never placed");
        }
        if ((tables.isReferenced(cluster) && !ownZeroCluster) || reservedPlaces.contains(place)) {
            throw new FormatException(store.path() + ": cannot adopt place " + place + " for chunk " + volumeChunk
                    + ": the cluster is in use");
        }
        // counted already (its refcount is normally 1 from the earlier place); a 0 is made 1 at commit
        released.remove(place);
        reservations.put(volumeChunk, place);
        reservedPlaces.add(place);
    }

    @Override
    public void release(long volumeChunk) {
        Long place = reservations.remove(volumeChunk);
        if (place == null) {
            return;
        }
        reservedPlaces.remove(place);
        long e = entry(volumeChunk);
        if (!((e & ZERO) != 0 && (e & OFFSET_MASK) == place)) {
            released.add(place);
        }
    }

    @Override
    public void commit(List<Mapping> group) throws IOException, FormatException {
        List<Mapping> batch = new ArrayList<>(group.size());
        List<Long> unmapping = new ArrayList<>();
        for (Mapping m : group) {
            if (m.place() != UNMAPPED) {
                batch.add(m);
                continue;
            }
            long old = committedPlace(m.volumeChunk());
            if (old >= 0) { // else unmapped already
                batch.add(m);
                unmapping.add(old);
            }
        }
        if (batch.isEmpty()) {
            return;
        }
        for (Mapping m : batch) {
            if (m.place() == UNMAPPED) {
                continue;
            }
            Long reserved = reservations.get(m.volumeChunk());
            if (reserved == null || reserved != m.place()) {
                throw new FormatException(store.path() + ": commit of chunk " + m.volumeChunk() + " to "
                        + m.place() + " which was not placed there");
            }
        }
        beforeFirstWrite();
        for (Mapping m : batch) {
            long cluster = m.place() / clusterSize;
            if (m.place() != UNMAPPED && refcounts.get(cluster) == 0) {
                refcounts.set(cluster, 1); // an adopted place whose refcount was lost
                usedClusters++;
            }
        }
        tables.commit(batch, () -> {
            long cluster = refcounts.allocate();
            usedClusters++;
            return cluster;
        });
        for (Mapping m : batch) {
            if (m.place() == UNMAPPED) {
                mappings--;
            } else {
                reservations.remove(m.volumeChunk());
                reservedPlaces.remove(m.place());
                mappings++;
            }
        }
        unmapped.addAll(unmapping);
    }

    /**
     * Counts 0 (and punches out) every cluster with refcount 1 that neither the image's metadata nor
     * a committed mapping references and that is not reserved, released or unmapped here: what
     * `qemu-img check -r leaks` would free. Left alone in an image with bitmaps.
     */
    @Override
    public long reclaimLeaks() throws IOException {
        if (closed || hasBitmaps) {
            return 0;
        }
        List<Long> leaked = new ArrayList<>();
        BitSet refcountClusters = refcounts.ownClusters();
        for (long c = 1; c < refcounts.endCluster(); c++) {
            long place = c * clusterSize;
            if (refcounts.get(c) == 1 && !tables.isReferenced(c)
                    && !refcountClusters.get((int) c)
                    && !reservedPlaces.contains(place) && !released.contains(place) && !unmapped.contains(place)) {
                leaked.add(c);
            }
        }
        refcounts.forgetBlocks();
        if (leaked.isEmpty()) {
            return 0;
        }
        beforeFirstWrite();
        for (long c : leaked) {
            store.discard(c * clusterSize, clusterSize);
            refcounts.set(c, 0);
        }
        store.flush();
        usedClusters -= leaked.size();
        return leaked.size();
    }

    @Override
    public boolean unmaps() {
        return true;
    }

    @Override
    public List<Long> unmappedPlaces() {
        return List.copyOf(unmapped);
    }

    /** Each cluster's bytes discarded (a hole in the file), then its refcount 0: a free hole. */
    @Override
    public void freePlaces(List<Long> places) throws IOException {
        for (long place : places) {
            if (unmapped.contains(place)) {
                store.discard(place, clusterSize);
                refcounts.set(place / clusterSize, 0);
                unmapped.remove(place);
                usedClusters--;
            }
        }
    }

    @Override
    public boolean growsItself() {
        return true;
    }

    @Override
    public SpaceUsage usage() {
        return new SpaceUsage(usedClusters - released.size(), released.size(), mappings);
    }

    /**
     * Frees (refcount 0) the released clusters, so a clean shutdown leaves no leaks, and flushes.
     * Places still reserved stay counted: the kernel may hold them as granted remaps and replay
     * them to the next daemon, which adopts them; never adopted, they are leaks. The store stays
     * open: its opener closes it.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        // unmapped clusters too: the daemon stops, so no table sends writes there any more
        if (!released.isEmpty() || !unmapped.isEmpty()) {
            for (long place : released) {
                refcounts.set(place / clusterSize, 0);
            }
            for (long place : unmapped) {
                refcounts.set(place / clusterSize, 0);
            }
            store.flush();
        }
    }
}
