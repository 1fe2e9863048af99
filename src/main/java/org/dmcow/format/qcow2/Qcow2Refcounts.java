/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.SpaceFullException;

/**
 * The 16-bit refcounts of a qcow2 file and cluster allocation at its end. Refcount blocks are
 * cached once read. A new refcount block is placed at the cluster being allocated, so it lies in
 * the range it describes and counts itself; it is written and flushed before the table entry that
 * points at it. A full refcount table is relocated: new blocks and table written, flush, header,
 * flush, then the old table freed.
 */
final class Qcow2Refcounts {
    static final long TABLE_ENTRY_MASK = 0xfffffffffffffe00L;

    private final CowStore store;
    private final long clusterSize;
    /** Refcounts per block: clusterSize / 2. */
    private final long perBlock;
    private final long growStep;
    private long tableOffset;
    private long tableClusters;
    private long[] table;
    private final Map<Long, short[]> blocks = new HashMap<>();
    private long endCluster;

    private Qcow2Refcounts(CowStore store, int clusterBits, long tableOffset, long tableClusters, long[] table) {
        this.store = store;
        this.clusterSize = 1L << clusterBits;
        this.perBlock = clusterSize / 2;
        // grow the file (and the loop device) in steps, not per cluster
        this.growStep = Math.max(clusterSize, 4L << 20);
        this.tableOffset = tableOffset;
        this.tableClusters = tableClusters;
        this.table = table;
    }

    /** Reads the refcount table; validates its entries lie inside the file and are aligned. */
    static Qcow2Refcounts read(CowStore store, Qcow2Header h) throws IOException, FormatException {
        long cs = h.clusterSize();
        long fileSize = store.size();
        if (h.refcountTableOffset % cs != 0 || h.refcountTableClusters <= 0
                || h.refcountTableOffset + h.refcountTableClusters * cs > fileSize) {
            throw new FormatException(h.file + ": corrupt qcow2 image: refcount table at " + h.refcountTableOffset
                    + " (" + h.refcountTableClusters + " clusters) is misaligned or outside the file");
        }
        long entries = h.refcountTableClusters * cs / 8;
        if (entries > Integer.MAX_VALUE) {
            throw new FormatException(h.file + ": refcount table too large");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) (entries * 8));
        store.read(buf, h.refcountTableOffset);
        long[] table = new long[(int) entries];
        for (int i = 0; i < table.length; i++) {
            long e = buf.getLong(i * 8);
            long off = e & TABLE_ENTRY_MASK;
            if (e != off || off % cs != 0 || off >= fileSize) {
                throw new FormatException(h.file + ": corrupt qcow2 image: refcount table entry " + i + " (0x"
                        + Long.toHexString(e) + ") is misaligned or outside the file");
            }
            table[i] = off;
        }
        return new Qcow2Refcounts(store, h.clusterBits, h.refcountTableOffset, h.refcountTableClusters, table);
    }

    /** A fresh in-memory refcount state for create: the table at {@code tableOffset}, no blocks yet. */
    static Qcow2Refcounts fresh(CowStore store, int clusterBits, long tableOffset, long tableClusters) {
        long[] table = new long[(int) (tableClusters * (1L << clusterBits) / 8)];
        return new Qcow2Refcounts(store, clusterBits, tableOffset, tableClusters, table);
    }

    long tableOffset() {
        return tableOffset;
    }

    long tableClusters() {
        return tableClusters;
    }

    /** Offsets of the refcount blocks, by block index (0 where absent). */
    long[] table() {
        return table.clone();
    }

    long perBlock() {
        return perBlock;
    }

    /** The first cluster after everything allocated; new clusters are appended there. */
    long endCluster() {
        return endCluster;
    }

    void setEndCluster(long cluster) {
        endCluster = cluster;
    }

    int get(long cluster) throws IOException {
        long b = cluster / perBlock;
        if (b >= table.length || table[(int) b] == 0) {
            return 0;
        }
        return Short.toUnsignedInt(block(b)[(int) (cluster % perBlock)]);
    }

    /** Sets a cluster's refcount and writes the 2-byte entry (not flushed); its block must exist. */
    void set(long cluster, int refcount) throws IOException {
        if (!covers(cluster)) {
            throw new IllegalStateException("no refcount block for cluster " + cluster);
        }
        long b = cluster / perBlock;
        int i = (int) (cluster % perBlock);
        block(b)[i] = (short) refcount;
        store.write(ByteBuffer.allocate(2).putShort(0, (short) refcount), table[(int) b] + 2L * i);
    }

    /** What a full pass over the refcount blocks found. */
    record Scan(long highestUsed, long usedClusters) {
    }

    /** Reads every refcount block once: the highest cluster with a nonzero refcount (or -1), and how many. */
    Scan scan() throws IOException {
        long highest = -1;
        long used = 0;
        for (long b = 0; b < table.length; b++) {
            if (table[(int) b] == 0) {
                continue;
            }
            short[] blk = block(b);
            for (int i = 0; i < blk.length; i++) {
                if (blk[i] != 0) {
                    highest = b * perBlock + i;
                    used++;
                }
            }
        }
        forgetBlocks();
        return new Scan(highest, used);
    }

    /**
     * Drops the cached blocks (entries are written through, so nothing is lost): after a pass over
     * all of them, keep only what allocation will touch again.
     */
    void forgetBlocks() {
        blocks.clear();
    }

    /** The refcount structure's own clusters: the table's and the blocks'. */
    BitSet ownClusters() {
        BitSet own = new BitSet();
        own.set((int) (tableOffset / clusterSize), (int) (tableOffset / clusterSize + tableClusters));
        for (long off : table) {
            if (off != 0) {
                own.set((int) (off / clusterSize));
            }
        }
        return own;
    }

    /** Whether a refcount block describes {@code cluster}. */
    boolean covers(long cluster) {
        long b = cluster / perBlock;
        return b < table.length && table[(int) b] != 0;
    }

    /**
     * Allocates one cluster at the end of the file with refcount 1 (written, not flushed), growing
     * the store first. Returns its index.
     *
     * @throws SpaceFullException when the store cannot grow
     */
    long allocate() throws IOException, SpaceFullException {
        return allocateInRun(1, 0);
    }

    /**
     * Reserves a run of {@code runClusters} clusters at the end of the file, aligned to its length
     * (a power of two dividing {@link #perBlock}, so one refcount block describes the whole run, and
     * never one placed inside it), and allocates its {@code index}th cluster as {@link #allocate}
     * does. The others keep refcount 0: holes below {@link #endCluster} that nothing else allocates
     * and that {@link #allocateHole} hands out. Returns the allocated cluster.
     *
     * @throws SpaceFullException when the store cannot grow
     */
    long allocateInRun(long runClusters, long index) throws IOException, SpaceFullException {
        while (true) {
            long start = (endCluster + runClusters - 1) / runClusters * runClusters;
            long b = start / perBlock;
            if (b >= table.length) {
                relocateTable(b);
                continue;
            }
            long c = start + index;
            growFor(c);
            if (table[(int) b] == 0) {
                // before the run, or at its start when the run opens the block's range
                addSelfDescribingBlock(b, Math.max(endCluster, b * perBlock));
                continue;
            }
            set(c, 1);
            endCluster = start + runClusters;
            return c;
        }
    }

    /** Whether a cluster below the end has refcount 0 and a block to count it in: a hole. */
    boolean isHole(long cluster) throws IOException {
        return cluster > 0 && cluster < endCluster && covers(cluster) && get(cluster) == 0;
    }

    /**
     * Allocates a hole (see {@link #isHole}) with refcount 1 (written, not flushed), growing the
     * store first: the end may lie past the file's length after a reopen.
     *
     * @throws SpaceFullException when the store cannot grow
     */
    void allocateHole(long cluster) throws IOException, SpaceFullException {
        growFor(cluster);
        set(cluster, 1);
    }

    private void growFor(long cluster) throws IOException, SpaceFullException {
        long needed = (cluster + 1) * clusterSize;
        if (store.size() < needed) {
            try {
                store.grow((needed + growStep - 1) / growStep * growStep);
            } catch (IOException e) {
                throw new SpaceFullException(store.path() + ": cannot grow the qcow2 file to " + needed + " bytes: "
                        + e.getMessage());
            }
        }
    }

    private void addSelfDescribingBlock(long b, long c) throws IOException {
        short[] blk = new short[(int) perBlock];
        blk[(int) (c % perBlock)] = 1;
        blocks.put(b, blk);
        writeBlock(b, c * clusterSize);
        store.flush();
        table[(int) b] = c * clusterSize;
        store.write(ByteBuffer.allocate(8).putLong(0, c * clusterSize), tableOffset + 8 * b);
        endCluster = c + 1;
    }

    private void relocateTable(long neededBlock) throws IOException, SpaceFullException {
        long perTableCluster = clusterSize / 8;
        long newClusters = Math.max(2 * tableClusters, (neededBlock + perTableCluster) / perTableCluster);
        // room for the new table itself and the blocks describing it
        while ((endCluster + 2 * newClusters + 2) / perBlock >= newClusters * perTableCluster) {
            newClusters *= 2;
        }
        long[] newTable = Arrays.copyOf(table, (int) (newClusters * perTableCluster));
        TreeSet<Long> touched = new TreeSet<>();
        long cur = endCluster;
        while (true) {
            long b = cur / perBlock;
            if (newTable[(int) b] == 0) {
                newTable[(int) b] = cur * clusterSize;
                short[] blk = new short[(int) perBlock];
                blk[(int) (cur % perBlock)] = 1;
                blocks.put(b, blk);
                touched.add(b);
                cur++;
                continue;
            }
            long lastBlock = (cur + newClusters - 1) / perBlock;
            long missing = -1;
            for (long j = b + 1; j <= lastBlock; j++) {
                if (newTable[(int) j] == 0) {
                    missing = j;
                    break;
                }
            }
            if (missing < 0) {
                break;
            }
            cur = missing * perBlock; // clusters skipped stay free
        }
        long start = cur;
        table = newTable;
        for (long c = start; c < start + newClusters; c++) {
            long b = c / perBlock;
            block(b)[(int) (c % perBlock)] = 1;
            touched.add(b);
        }
        growFor(start + newClusters - 1);
        for (long b : touched) {
            writeBlock(b, table[(int) b]);
        }
        store.flush();
        ByteBuffer t = ByteBuffer.allocate(newTable.length * 8);
        for (int i = 0; i < newTable.length; i++) {
            t.putLong(i * 8, newTable[i]);
        }
        store.write(t, start * clusterSize);
        store.flush();
        ByteBuffer hdr = ByteBuffer.allocate(12).putLong(0, start * clusterSize).putInt(8, (int) newClusters);
        store.write(hdr, Qcow2Header.OFF_REFCOUNT_TABLE);
        store.flush();
        long oldStart = tableOffset / clusterSize;
        long oldClusters = tableClusters;
        tableOffset = start * clusterSize;
        tableClusters = newClusters;
        endCluster = start + newClusters;
        // losing these writes only leaks the old table
        for (long c = oldStart; c < oldStart + oldClusters; c++) {
            set(c, 0);
        }
    }

    private short[] block(long b) throws IOException {
        short[] blk = blocks.get(b);
        if (blk == null) {
            ByteBuffer buf = ByteBuffer.allocate((int) clusterSize);
            store.read(buf, table[(int) b]);
            blk = new short[(int) perBlock];
            buf.clear().asShortBuffer().get(blk);
            blocks.put(b, blk);
        }
        return blk;
    }

    /** Writes a whole block from the cache at {@code offset}. */
    void writeBlock(long b, long offset) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) clusterSize);
        buf.asShortBuffer().put(blocks.get(b));
        store.write(buf, offset);
    }

    /** For create: lay out block 0.. at the given offsets and set refcounts of clusters [0, n). */
    void initialise(long firstBlockCluster, long blockCount, long usedClusters) throws IOException {
        for (long b = 0; b < blockCount; b++) {
            table[(int) b] = (firstBlockCluster + b) * clusterSize;
            blocks.put(b, new short[(int) perBlock]);
        }
        for (long c = 0; c < usedClusters; c++) {
            blocks.get(c / perBlock)[(int) (c % perBlock)] = 1;
        }
        for (long b = 0; b < blockCount; b++) {
            writeBlock(b, table[(int) b]);
        }
        ByteBuffer t = ByteBuffer.allocate(table.length * 8);
        for (int i = 0; i < table.length; i++) {
            t.putLong(i * 8, table[i]);
        }
        store.write(t, tableOffset);
        endCluster = usedClusters;
    }
}
