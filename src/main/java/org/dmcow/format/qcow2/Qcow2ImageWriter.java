/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

import org.dmcow.format.CowStore;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.ZeroBytes;

/**
 * Writes a new, compact qcow2 image in one pass, clusters in increasing volume order: the header
 * and L1 table first, then each L2 table followed by the data clusters it maps, the refcount
 * structures last. Every cluster of the file is used once, so the refcounts are all 1 and are
 * written at the end without being kept; memory holds the L1 table and one L2 table, whatever the
 * volume's size. The header is written last: an interrupted write leaves no valid image.
 */
public final class Qcow2ImageWriter implements Closeable {
    private static final long MAX_L1_BYTES = 32L << 20;

    private final CowStore store;
    private final long clusterSize;
    private final long size;
    private final Optional<String> rawBacking;
    private final long l2Entries;
    private final long[] l1;
    private final long l1Clusters;
    private final ByteBuffer l2;
    /** The L1 index of the L2 table in {@link #l2}, and its cluster; -1 when none. */
    private long l2Index = -1;
    private long l2Cluster;
    /** The next free cluster of the file. */
    private long next;
    private long lastCluster = -1;

    private Qcow2ImageWriter(CowStore store, long clusterSize, long size, Optional<String> rawBacking, int l1Size) {
        this.store = store;
        this.clusterSize = clusterSize;
        this.size = size;
        this.rawBacking = rawBacking;
        this.l2Entries = clusterSize / 8;
        this.l1 = new long[l1Size];
        this.l1Clusters = (8L * l1Size + clusterSize - 1) / clusterSize;
        this.l2 = ByteBuffer.allocate((int) clusterSize);
        this.next = 1 + l1Clusters;
    }

    /**
     * Starts {@code file}, a new file, as an image
     * of {@code size} bytes; {@code rawBacking}: the backing file's name, recorded as raw, or none
     * for a standalone image.
     */
    public static Qcow2ImageWriter create(Path file, long clusterSize, long size, Optional<String> rawBacking)
            throws IOException, FormatException {
        int l1Size = check(file, clusterSize, size, rawBacking);
        return new Qcow2ImageWriter(FileCowStore.open(file, true, null), clusterSize, size, rawBacking, l1Size);
    }

    /**
     * Refuses, naming {@code file}, an image qcow2 cannot describe: a cluster size out of range, a
     * size not in whole sectors, too large an L1 table, a backing name too long; else its L1 size.
     */
    public static int check(Path file, long clusterSize, long size, Optional<String> rawBacking)
            throws FormatException {
        if (clusterSize < Qcow2Format.MIN_CHUNK || clusterSize > Qcow2Format.MAX_CHUNK
                || Long.bitCount(clusterSize) != 1) {
            throw new FormatException(file + ": a qcow2 cluster size must be a power of two from 4 KiB to 2 MiB, not "
                    + clusterSize + " (the chunk size of the space)");
        }
        if (size <= 0 || size % 512 != 0) {
            throw new FormatException(file + ": a qcow2 image of " + size + " bytes is impossible: qcow2 sizes are "
                    + "whole 512-byte sectors");
        }
        long l1Size = (size + clusterSize * (clusterSize / 8) - 1) / (clusterSize * (clusterSize / 8));
        if (8 * l1Size > MAX_L1_BYTES) {
            throw new FormatException(file + ": " + size + " bytes in " + clusterSize
                    + "-byte clusters needs an L1 table larger than 32 MiB");
        }
        try {
            header(clusterSize, size, 0, 0, 0, 0, rawBacking);
        } catch (FormatException e) {
            throw new FormatException(file + ": " + e.getMessage());
        }
        return (int) l1Size;
    }

    /**
     * The first cluster of a new version 3 image: 16-bit refcounts, no features, and when
     * {@code rawBacking} is given its name and the raw backing format extension.
     */
    static ByteBuffer header(long clusterSize, long size, int l1Size, long l1Offset, long refcountTableOffset,
            int refcountTableClusters, Optional<String> rawBacking) throws FormatException {
        int ext = Qcow2Header.V3_HEADER_LENGTH;
        int nameOffset = ext + 16 + 8;
        byte[] name = rawBacking.orElse("").getBytes(StandardCharsets.UTF_8);
        if (name.length > 1023 || nameOffset + name.length > clusterSize) {
            throw new FormatException("backing file name " + rawBacking.orElse("") + " is too long for a qcow2 header");
        }
        ByteBuffer h = ByteBuffer.allocate((int) clusterSize);
        h.putInt(0, Qcow2Header.MAGIC).putInt(4, 3)
                .putLong(8, rawBacking.isPresent() ? nameOffset : 0).putInt(16, name.length)
                .putInt(20, Long.numberOfTrailingZeros(clusterSize)).putLong(24, size)
                .putInt(32, 0).putInt(36, l1Size).putLong(40, l1Offset)
                .putLong(48, refcountTableOffset).putInt(56, refcountTableClusters)
                .putInt(60, 0).putLong(64, 0)
                .putLong(72, 0).putLong(80, 0).putLong(88, 0)
                .putInt(96, 4).putInt(100, Qcow2Header.V3_HEADER_LENGTH);
        h.put(104, (byte) 0); // compression type zlib
        if (rawBacking.isPresent()) {
            h.putInt(ext, Qcow2Header.EXT_BACKING_FORMAT).putInt(ext + 4, 3)
                    .put(ext + 8, "raw".getBytes(StandardCharsets.US_ASCII));
            ext += 16;
            h.put(nameOffset, name);
        }
        h.putInt(ext, Qcow2Header.EXT_END).putInt(ext + 4, 0);
        return h;
    }

    public long clusterSize() {
        return clusterSize;
    }

    /**
     * Data for clusters from {@code firstCluster} on, in increasing order across calls; the last
     * cluster of the volume may come short (padded with zeros). With {@code skipZeros}, clusters of
     * zeros stay unallocated: they read as zeros (or, with a backing file, as the backing file).
     */
    public void data(long firstCluster, ByteBuffer data, boolean skipZeros) throws IOException {
        ByteBuffer src = data.slice();
        long count = (src.remaining() + clusterSize - 1) / clusterSize;
        long runFile = -1;
        int runFrom = 0;
        int runTo = 0;
        for (long i = 0; i < count; i++) {
            long cluster = firstCluster + i;
            int from = (int) (i * clusterSize);
            int to = (int) Math.min(src.limit(), from + clusterSize);
            if (skipZeros && ZeroBytes.all(src, from, to)) {
                continue;
            }
            long fileCluster = entryFor(cluster);
            l2.putLong((int) (8 * (cluster % l2Entries)), Qcow2Tables.COPIED | fileCluster * clusterSize);
            if (runFile >= 0 && from == runTo && fileCluster == runFile + (runTo - runFrom) / clusterSize) {
                runTo = to;
            } else {
                writeRun(src, runFrom, runTo, runFile);
                runFile = fileCluster;
                runFrom = from;
                runTo = to;
            }
        }
        writeRun(src, runFrom, runTo, runFile);
    }

    /** Writes {@code src[from, to)} at file cluster {@code fileCluster}, the last cluster padded with zeros. */
    private void writeRun(ByteBuffer src, int from, int to, long fileCluster) throws IOException {
        if (fileCluster < 0) {
            return;
        }
        int length = to - from;
        int whole = (int) ((length + clusterSize - 1) / clusterSize * clusterSize);
        ByteBuffer run = src.duplicate().position(from).limit(to);
        if (whole != length) {
            run = ByteBuffer.allocate(whole).put(run).clear();
        }
        store.write(run, fileCluster * clusterSize);
    }

    /** Clusters that read as zeros even where a backing file has data (the L2 zero flag). */
    public void zeros(long firstCluster, long clusters) throws IOException {
        for (long c = firstCluster; c < firstCluster + clusters; c++) {
            requireIncreasing(c);
            tableFor(c);
            l2.putLong((int) (8 * (c % l2Entries)), Qcow2Tables.ZERO);
        }
    }

    /** The file cluster given to volume cluster {@code cluster}: the next free one. */
    private long entryFor(long cluster) throws IOException {
        requireIncreasing(cluster);
        tableFor(cluster);
        return next++;
    }

    private void requireIncreasing(long cluster) {
        if (cluster <= lastCluster || cluster >= (size + clusterSize - 1) / clusterSize) {
            throw new IllegalArgumentException("cluster " + cluster + " out of order or outside the image");
        }
        lastCluster = cluster;
    }

    /** Makes the L2 table of {@code cluster} the current one, writing the previous one out. */
    private void tableFor(long cluster) throws IOException {
        long index = cluster / l2Entries;
        if (index == l2Index) {
            return;
        }
        writeTable();
        l2Index = index;
        l2Cluster = next++;
        l1[(int) index] = Qcow2Tables.COPIED | l2Cluster * clusterSize;
    }

    private void writeTable() throws IOException {
        if (l2Index >= 0) {
            store.write(l2.clear(), l2Cluster * clusterSize);
            java.util.Arrays.fill(l2.array(), (byte) 0);
            l2Index = -1;
        }
    }

    /** Writes the last L2 table, the L1 table, the refcounts and the header, and flushes: the image is complete. */
    public void finish() throws IOException, FormatException {
        writeTable();
        ByteBuffer l1Bytes = ByteBuffer.allocate((int) (l1Clusters * clusterSize));
        for (long e : l1) {
            l1Bytes.putLong(e);
        }
        store.write(l1Bytes.clear(), clusterSize);
        long perBlock = clusterSize / 2;
        long blocks = 1;
        long tableClusters = 1;
        while (true) { // the refcount structures count themselves
            long total = next + tableClusters + blocks;
            long neededBlocks = (total + perBlock - 1) / perBlock;
            long neededTable = (8 * neededBlocks + clusterSize - 1) / clusterSize;
            if (neededBlocks == blocks && neededTable == tableClusters) {
                break;
            }
            blocks = Math.max(blocks, neededBlocks);
            tableClusters = Math.max(tableClusters, neededTable);
        }
        long tableAt = next;
        long total = next + tableClusters + blocks;
        ByteBuffer table = ByteBuffer.allocate((int) (tableClusters * clusterSize));
        ByteBuffer block = ByteBuffer.allocate((int) clusterSize);
        for (long b = 0; b < blocks; b++) {
            long blockCluster = tableAt + tableClusters + b;
            block.clear();
            for (long i = 0; i < perBlock; i++) {
                block.putShort((short) (b * perBlock + i < total ? 1 : 0));
            }
            store.write(block.clear(), blockCluster * clusterSize);
            table.putLong(blockCluster * clusterSize);
        }
        store.write(table.clear(), tableAt * clusterSize);
        store.flush();
        store.write(header(clusterSize, size, l1.length, clusterSize, tableAt * clusterSize, (int) tableClusters,
                rawBacking), 0);
        store.flush();
        next = total;
    }

    /** Bytes the image file takes so far (header, tables, data). */
    public long fileBytes() {
        return next * clusterSize;
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
