/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongConsumer;

import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * A qcow2 file served as a CoW space. Places are byte offsets of data clusters. Crash contract: a
 * placed cluster gets refcount 1 when placed (written, not flushed); commit flushes (refcounts,
 * new L2 tables), then writes L2 entries in existing tables and L1 entries for new tables, then
 * flushes again. A crash therefore leaves at worst clusters with refcount 1 that nothing
 * references (leaks), never an entry pointing at an unreferenced or unwritten cluster.
 *
 * <p>Placement keeps volume locality whatever order chunks are first written in: the first chunk
 * placed of an aligned group of {@link #GROUP_CHUNKS} chunks reserves a run of as many clusters at
 * the end of the file, and each chunk of the group goes to its own slot in the run. Only the placed
 * clusters are counted; the rest of the run are holes (refcount 0, which QEMU accepts). A slot is
 * derived from a placed neighbour in the group, not remembered, so it survives a reopen.
 */
final class Qcow2Space implements CowSpace {
    static final long OFFSET_MASK = 0x00fffffffffffe00L;
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    static final long L1_RESERVED = 0x7f000000000001ffL;
    static final long L2_RESERVED = 0x3f000000000001feL;
    /**
     * Volume chunks per placement group, and clusters per run: 1 MiB at 64 KiB clusters. A power
     * of two dividing every refcount block's range (2048 clusters and up), so no run crosses one.
     */
    static final long GROUP_CHUNKS = 16;

    private final CowStore store;
    private final long clusterSize;
    private final long volumeSize;
    private final long l2Entries;
    private final long l1Offset;
    /** Raw L1 entries; raw L2 entries per L1 index (null where no table). */
    private final long[] l1;
    private final long[][] l2;
    private final Qcow2Refcounts refcounts;
    /** Clusters referenced by metadata or committed mappings: adopt never takes them. */
    private final BitSet referenced;
    private final Map<Long, Long> reservations = new HashMap<>();
    private final Set<Long> reservedPlaces = new HashSet<>();
    /** Released clusters, still counted 1 on disk, handed out again first. */
    private final ArrayDeque<Long> released = new ArrayDeque<>();
    private boolean autoclearPending;
    private long usedClusters;
    private long mappings;
    private boolean closed;
    private long dataEnd;

    private Qcow2Space(CowStore store, Qcow2Header h, Qcow2Refcounts refcounts, long[] l1, long[][] l2,
            BitSet referenced) {
        this.store = store;
        this.clusterSize = h.clusterSize();
        this.volumeSize = h.size;
        this.l2Entries = clusterSize / 8;
        this.l1Offset = h.l1TableOffset;
        this.l1 = l1;
        this.l2 = l2;
        this.refcounts = refcounts;
        this.referenced = referenced;
        this.autoclearPending = h.autoclearFeatures != 0;
    }

    /** Reads the tables of a servable image (the header already passed requireServable). */
    static Qcow2Space load(CowStore store, Qcow2Header h) throws IOException, FormatException {
        long cs = h.clusterSize();
        long fileSize = store.size();
        long entries = cs / 8;
        long neededL1 = (h.size + cs * entries - 1) / (cs * entries);
        if (fileSize / cs >= Integer.MAX_VALUE) {
            throw new FormatException(h.file + ": qcow2 file of " + fileSize + " bytes has too many clusters");
        }
        if (h.l1Size < neededL1 || h.l1TableOffset % cs != 0 || h.l1TableOffset + 8L * h.l1Size > fileSize) {
            throw corrupt(h, "L1 table at " + h.l1TableOffset + " with " + h.l1Size
                    + " entries is misaligned, too small or outside the file");
        }
        Qcow2Refcounts refcounts = Qcow2Refcounts.read(store, h);
        BitSet referenced = new BitSet();
        referenced.set(0);
        mark(referenced, h.refcountTableOffset / cs, h.refcountTableClusters);
        for (long off : refcounts.table()) {
            if (off != 0) {
                referenced.set((int) (off / cs));
            }
        }
        mark(referenced, h.l1TableOffset / cs, (8L * h.l1Size + cs - 1) / cs);
        ByteBuffer l1buf = ByteBuffer.allocate(8 * h.l1Size);
        store.read(l1buf, h.l1TableOffset);
        long[] l1 = new long[h.l1Size];
        long[][] l2 = new long[h.l1Size][];
        long mapped = 0;
        long dataEnd = 0;
        for (int i = 0; i < h.l1Size; i++) {
            long e = l1buf.getLong(8 * i);
            l1[i] = e;
            long off = e & OFFSET_MASK;
            if ((e & L1_RESERVED) != 0 || off % cs != 0 || off >= fileSize) {
                throw corrupt(h, "L1 entry " + i + " (0x" + Long.toHexString(e) + ") is invalid");
            }
            if (off == 0) {
                continue;
            }
            referenced.set((int) (off / cs));
            ByteBuffer buf = ByteBuffer.allocate((int) cs);
            store.read(buf, off);
            long[] table = new long[(int) entries];
            buf.clear().asLongBuffer().get(table);
            for (int j = 0; j < table.length; j++) {
                long d = table[j];
                if ((d & COMPRESSED) != 0) {
                    throw new FormatException(h.file + ": qcow2 image has compressed clusters (first at guest offset "
                            + ((i * entries + j) * cs) + "), which are not supported; decompress it with "
                            + "`qemu-img convert -O qcow2`");
                }
                long dOff = d & OFFSET_MASK;
                if ((d & L2_RESERVED) != 0 || dOff % cs != 0 || dOff >= fileSize) {
                    throw corrupt(h, "L2 entry " + j + " of table " + i + " (0x" + Long.toHexString(d)
                            + ") is invalid");
                }
                if (dOff != 0) {
                    dataEnd = Math.max(dataEnd, dOff + cs);
                    referenced.set((int) (dOff / cs));
                    if ((d & ZERO) == 0) {
                        mapped++;
                    }
                }
            }
            l2[i] = table;
        }
        Qcow2Refcounts.Scan scan = refcounts.scan();
        // the last run's holes stay below the end, for its group's chunks, not for metadata
        long end = Math.max(scan.highestUsed() + 1, referenced.length());
        refcounts.setEndCluster((end + GROUP_CHUNKS - 1) / GROUP_CHUNKS * GROUP_CHUNKS);
        Qcow2Space space = new Qcow2Space(store, h, refcounts, l1, l2, referenced);
        space.usedClusters = scan.usedClusters();
        space.mappings = mapped;
        space.dataEnd = dataEnd;
        return space;
    }

    /**
     * Bytes the file must span so that every data cluster lies in it whole: QEMU may leave the
     * file's last cluster partial, and the kernel sees only the file's length (a loop device).
     */
    long dataEnd() {
        return dataEnd;
    }

    private static void mark(BitSet set, long first, long count) {
        set.set((int) first, (int) (first + count));
    }

    private static FormatException corrupt(Qcow2Header h, String what) {
        return new FormatException(h.file + ": corrupt qcow2 image: " + what
                + "; check it with `qemu-img check " + h.file + "`");
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
        long[] t = l2[(int) (chunk / l2Entries)];
        return t == null ? 0 : t[(int) (chunk % l2Entries)];
    }

    private static boolean isData(long entry) {
        return (entry & OFFSET_MASK) != 0 && (entry & ZERO) == 0;
    }

    @Override
    public void forEachMapping(MappingVisitor visitor) {
        long chunks = volumeChunks();
        for (int i = 0; i < l2.length; i++) {
            long[] t = l2[i];
            if (t == null) {
                continue;
            }
            for (int j = 0; j < t.length && i * l2Entries + j < chunks; j++) {
                if (isData(t[j])) {
                    visitor.mapping(i * l2Entries + j, t[j] & OFFSET_MASK);
                }
            }
        }
    }

    /** Chunks whose L2 entry has the zero flag (with or without a cluster), unplaced ones included. */
    @Override
    public void forEachZeroChunk(LongConsumer visitor) {
        long chunks = volumeChunks();
        for (int i = 0; i < l2.length; i++) {
            long[] t = l2[i];
            if (t == null) {
                continue;
            }
            for (int j = 0; j < t.length && i * l2Entries + j < chunks; j++) {
                if ((t[j] & ZERO) != 0) {
                    visitor.accept(i * l2Entries + j);
                }
            }
        }
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
        if (place <= 0 || cluster >= refcounts.endCluster() || referenced.get((int) cluster)
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
        if ((referenced.get((int) cluster) && !ownZeroCluster) || reservedPlaces.contains(place)) {
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
    public void commit(List<Mapping> batch) throws IOException, FormatException {
        if (batch.isEmpty()) {
            return;
        }
        for (Mapping m : batch) {
            Long reserved = reservations.get(m.volumeChunk());
            if (reserved == null || reserved != m.place()) {
                throw new FormatException(store.path() + ": commit of chunk " + m.volumeChunk() + " to "
                        + m.place() + " which was not placed there");
            }
        }
        beforeFirstWrite();
        for (Mapping m : batch) {
            long cluster = m.place() / clusterSize;
            if (refcounts.get(cluster) == 0) {
                refcounts.set(cluster, 1); // an adopted place whose refcount was lost
                usedClusters++;
            }
        }
        TreeMap<Integer, long[]> newTables = new TreeMap<>();
        TreeMap<Integer, Long> newTableClusters = new TreeMap<>();
        TreeMap<Long, Long> entryWrites = new TreeMap<>();
        for (Mapping m : batch) {
            int i = (int) (m.volumeChunk() / l2Entries);
            int j = (int) (m.volumeChunk() % l2Entries);
            long value = m.place() | COPIED;
            if (l2[i] != null) {
                entryWrites.put((l1[i] & OFFSET_MASK) + 8L * j, value);
                continue;
            }
            long[] t = newTables.get(i);
            if (t == null) {
                t = new long[(int) l2Entries];
                newTables.put(i, t);
                newTableClusters.put(i, refcounts.allocate());
                usedClusters++;
            }
            t[j] = value;
        }
        for (Map.Entry<Integer, long[]> n : newTables.entrySet()) {
            ByteBuffer buf = ByteBuffer.allocate((int) clusterSize);
            buf.asLongBuffer().put(n.getValue());
            store.write(buf, newTableClusters.get(n.getKey()) * clusterSize);
        }
        // refcounts and new L2 tables durable before anything points at them
        store.flush();
        for (Map.Entry<Long, Long> w : entryWrites.entrySet()) {
            store.write(ByteBuffer.allocate(8).putLong(0, w.getValue()), w.getKey());
        }
        for (Map.Entry<Integer, Long> n : newTableClusters.entrySet()) {
            long value = n.getValue() * clusterSize | COPIED;
            store.write(ByteBuffer.allocate(8).putLong(0, value), l1Offset + 8L * n.getKey());
        }
        store.flush();
        for (Map.Entry<Integer, long[]> n : newTables.entrySet()) {
            int i = n.getKey();
            l1[i] = newTableClusters.get(i) * clusterSize | COPIED;
            l2[i] = n.getValue();
            referenced.set((int) (long) newTableClusters.get(i));
        }
        for (Mapping m : batch) {
            int i = (int) (m.volumeChunk() / l2Entries);
            l2[i][(int) (m.volumeChunk() % l2Entries)] = m.place() | COPIED;
            referenced.set((int) (m.place() / clusterSize));
            reservations.remove(m.volumeChunk());
            reservedPlaces.remove(m.place());
            mappings++;
        }
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
        if (!released.isEmpty()) {
            for (long place : released) {
                refcounts.set(place / clusterSize, 0);
            }
            store.flush();
        }
    }
}
