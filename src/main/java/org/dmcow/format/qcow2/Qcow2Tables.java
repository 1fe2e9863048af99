/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongConsumer;

import org.dmcow.format.CowSpace;
import org.dmcow.format.CowSpace.Mapping;
import org.dmcow.format.CowSpace.MappingVisitor;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * The L1 and L2 tables of a qcow2 file, read whole and checked at open and kept in memory, and
 * the clusters that metadata or committed mappings reference. Crash contract of {@link #commit}:
 * new L2 tables are written and flushed (with the refcounts the caller set before) before
 * anything points at them; then L2 entries in existing tables and L1 entries for new tables are
 * written and flushed again. A crash leaves at worst a new table nothing points at (a leak), never
 * an entry pointing at an unwritten table.
 */
final class Qcow2Tables {
    static final long OFFSET_MASK = 0x00fffffffffffe00L;
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    static final long L1_RESERVED = 0x7f000000000001ffL;
    static final long L2_RESERVED = 0x3f000000000001feL;

    private final CowStore store;
    private final long clusterSize;
    private final long l2Entries;
    private final long l1Offset;
    /** Raw L1 entries; raw L2 entries per L1 index (null where no table). */
    private final long[] l1;
    private final long[][] l2;
    /** Clusters referenced by metadata or committed mappings: adopt never takes them. */
    private final BitSet referenced;
    private final long dataClustersAtOpen;
    private final long dataEnd;

    private Qcow2Tables(CowStore store, Qcow2Header h, long[] l1, long[][] l2, BitSet referenced,
            long dataClustersAtOpen, long dataEnd) {
        this.store = store;
        this.clusterSize = h.clusterSize();
        this.l2Entries = clusterSize / 8;
        this.l1Offset = h.l1TableOffset;
        this.l1 = l1;
        this.l2 = l2;
        this.referenced = referenced;
        this.dataClustersAtOpen = dataClustersAtOpen;
        this.dataEnd = dataEnd;
    }

    /**
     * Checks that cluster numbers fit the in-memory tables and that the header's L1 table covers
     * the volume inside the file: before anything else of the file is read.
     */
    static void checkPlacement(CowStore store, Qcow2Header h) throws IOException, FormatException {
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
    }

    /**
     * Reads and checks the L1 and L2 tables (after {@link #checkPlacement}), and marks every
     * cluster the header, the refcount structures, the tables and their entries reference.
     */
    static Qcow2Tables read(CowStore store, Qcow2Header h, Qcow2Refcounts refcounts)
            throws IOException, FormatException {
        long cs = h.clusterSize();
        long fileSize = store.size();
        long entries = cs / 8;
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
        return new Qcow2Tables(store, h, l1, l2, referenced, mapped, dataEnd);
    }

    private static void mark(BitSet set, long first, long count) {
        set.set((int) first, (int) (first + count));
    }

    private static FormatException corrupt(Qcow2Header h, String what) {
        return new FormatException(h.file + ": corrupt qcow2 image: " + what
                + "; check it with `qemu-img check " + h.file + "`");
    }

    /** Data clusters mapped when the file was read (zero-flagged entries not counted). */
    long dataClustersAtOpen() {
        return dataClustersAtOpen;
    }

    /** End of the last data cluster any entry held when the file was read, in bytes. */
    long dataEnd() {
        return dataEnd;
    }

    /** One past the highest referenced cluster. */
    long referencedEnd() {
        return referenced.length();
    }

    boolean isReferenced(long cluster) {
        return referenced.get((int) cluster);
    }

    /** The raw L2 entry of a volume chunk; 0 where its table is absent. */
    long entry(long chunk) {
        long[] t = l2[(int) (chunk / l2Entries)];
        return t == null ? 0 : t[(int) (chunk % l2Entries)];
    }

    static boolean isData(long entry) {
        return (entry & OFFSET_MASK) != 0 && (entry & ZERO) == 0;
    }

    /** Visits every chunk below {@code chunks} whose entry maps a data cluster. */
    void forEachData(long chunks, MappingVisitor visitor) {
        forEachEntry(chunks, (chunk, e) -> {
            if (isData(e)) {
                visitor.mapping(chunk, e & OFFSET_MASK);
            }
        });
    }

    /** Visits every chunk below {@code chunks} whose entry has the zero flag. */
    void forEachZero(long chunks, LongConsumer visitor) {
        forEachEntry(chunks, (chunk, e) -> {
            if ((e & ZERO) != 0) {
                visitor.accept(chunk);
            }
        });
    }

    /** A chunk and its raw L2 entry; primitive, as a walk may cover millions of chunks. */
    @FunctionalInterface
    private interface EntryVisitor {
        void entry(long chunk, long entry);
    }

    /** Visits the entries of every L2 table present, below {@code chunks}. */
    private void forEachEntry(long chunks, EntryVisitor visitor) {
        for (int i = 0; i < l2.length; i++) {
            long[] t = l2[i];
            if (t == null) {
                continue;
            }
            for (int j = 0; j < t.length && i * l2Entries + j < chunks; j++) {
                visitor.entry(i * l2Entries + j, t[j]);
            }
        }
    }

    /** Allocates (and counts) one cluster for a new L2 table. */
    interface TableAllocator {
        long allocate() throws IOException, FormatException;
    }

    /**
     * Writes the batch's entries (COPIED set; an unmap's 0, its chunk mapped so its table exists),
     * with a new L2 table where a chunk has none, in the order of the crash contract, then records
     * them in memory.
     */
    void commit(List<Mapping> batch, TableAllocator tableAllocator) throws IOException, FormatException {
        TreeMap<Integer, long[]> newTables = new TreeMap<>();
        TreeMap<Integer, Long> newTableClusters = new TreeMap<>();
        TreeMap<Long, Long> entryWrites = new TreeMap<>();
        for (Mapping m : batch) {
            int i = (int) (m.volumeChunk() / l2Entries);
            int j = (int) (m.volumeChunk() % l2Entries);
            // an unmap: unallocated, the chunk reads from the backing file again (as QEMU's discard)
            long value = m.place() == CowSpace.UNMAPPED ? 0 : m.place() | COPIED;
            if (l2[i] != null) {
                entryWrites.put((l1[i] & OFFSET_MASK) + 8L * j, value);
                continue;
            }
            long[] t = newTables.get(i);
            if (t == null) {
                t = new long[(int) l2Entries];
                newTables.put(i, t);
                newTableClusters.put(i, tableAllocator.allocate());
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
            int j = (int) (m.volumeChunk() % l2Entries);
            if (m.place() == CowSpace.UNMAPPED) {
                referenced.clear((int) ((l2[i][j] & OFFSET_MASK) / clusterSize));
                l2[i][j] = 0;
            } else {
                l2[i][j] = m.place() | COPIED;
                referenced.set((int) (m.place() / clusterSize));
            }
        }
    }
}
