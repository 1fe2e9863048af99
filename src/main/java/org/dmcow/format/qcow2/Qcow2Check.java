/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.dmcow.format.BaseImage;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CheckReport.Finding;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * An offline structural check of a qcow2 CoW space, independent of qemu-img: header and features,
 * table alignment and bounds, and every cluster's refcount against the references to it (too low
 * is corruption, too high a leak), plus the COPIED flags. Never writes.
 */
final class Qcow2Check {
    private static final int MAX_LISTED = 10;
    /** QEMU's limit on the bitmap directory (QCOW2_MAX_BITMAP_DIRECTORY_SIZE). */
    private static final long MAX_BITMAP_DIRECTORY = 1024L * 65535;
    private static final long BITMAP_ENTRY_OFFSET = 0x00fffffffffffe00L;

    private final CowStore store;
    private final List<Finding> findings = new ArrayList<>();
    private long cs;
    private long fileSize;
    private int[] references;
    private final List<long[]> copiedChecks = new ArrayList<>();
    private boolean compressedSeen;

    private Qcow2Check(CowStore store) {
        this.store = store;
    }

    static CheckReport check(CowStore store, Optional<BaseImage> base) throws IOException {
        Qcow2Check c = new Qcow2Check(store);
        c.run(base);
        return new CheckReport(store.path(), "qcow2", List.copyOf(c.findings));
    }

    private void add(String code, String message) {
        findings.add(new Finding(code, store.path() + ": " + message));
    }

    private void run(Optional<BaseImage> base) throws IOException {
        Qcow2Header h;
        try {
            h = Qcow2Header.read(store);
            h.requireServable();
        } catch (FormatException e) {
            add("unsupported", e.getMessage());
            return;
        }
        if (base.isPresent()) {
            try {
                Qcow2Format.requireBase(h, base.get());
            } catch (FormatException e) {
                add("wrong-base", e.getMessage());
            }
        }
        cs = h.clusterSize();
        fileSize = store.size();
        long fileClusters = (fileSize + cs - 1) / cs;
        references = new int[(int) fileClusters];
        Qcow2Refcounts refcounts;
        try {
            refcounts = Qcow2Refcounts.read(store, h);
        } catch (FormatException e) {
            add("bad-refcount-table", e.getMessage());
            return;
        }
        reference(0, "header");
        referenceRange(h.refcountTableOffset, h.refcountTableClusters * cs, "refcount table");
        for (long off : refcounts.table()) {
            if (off != 0) {
                reference(off, "refcount block");
            }
        }
        if (h.l1TableOffset % cs != 0 || h.l1TableOffset + 8L * h.l1Size > fileSize) {
            add("bad-l1", "L1 table at " + h.l1TableOffset + " is misaligned or outside the file");
            return;
        }
        referenceRange(h.l1TableOffset, 8L * h.l1Size, "L1 table");
        ByteBuffer l1 = ByteBuffer.allocate(8 * h.l1Size);
        store.read(l1, h.l1TableOffset);
        for (int i = 0; i < h.l1Size; i++) {
            long e = l1.getLong(8 * i);
            long off = e & Qcow2Tables.OFFSET_MASK;
            if ((e & Qcow2Tables.L1_RESERVED) != 0) {
                add("reserved-bits", "L1 entry " + i + " has reserved bits set (0x" + Long.toHexString(e) + ")");
            }
            if (off == 0) {
                continue;
            }
            if (!reference(off, "L2 table of L1 entry " + i)) {
                continue;
            }
            copiedChecks.add(new long[] {e, off});
            checkL2(i, off);
        }
        referenceBitmaps(h);
        compareRefcounts(refcounts, fileClusters);
    }

    private void checkL2(int i, long off) throws IOException {
        ByteBuffer t = ByteBuffer.allocate((int) cs);
        store.read(t, off);
        for (int j = 0; j < cs / 8; j++) {
            long e = t.getLong(8 * j);
            if ((e & Qcow2Tables.COMPRESSED) != 0) {
                referenceCompressed(e, i, j);
                continue;
            }
            if ((e & Qcow2Tables.L2_RESERVED) != 0) {
                add("reserved-bits", "L2 entry " + j + " of table " + i + " has reserved bits set (0x"
                        + Long.toHexString(e) + ")");
            }
            long data = e & Qcow2Tables.OFFSET_MASK;
            if (data != 0 && reference(data, "data cluster of L2 entry " + j + " of table " + i)) {
                copiedChecks.add(new long[] {e, data});
            }
        }
    }

    /** A compressed cluster descriptor references every host cluster its compressed bytes touch. */
    private void referenceCompressed(long e, int i, int j) {
        if (!compressedSeen) {
            compressedSeen = true;
            add("compressed-cluster", "holds compressed clusters (first: L2 entry " + j + " of table " + i
                    + "), which are not supported");
        }
        int x = 62 - (Long.numberOfTrailingZeros(cs) - 8);
        long offset = e & ((1L << x) - 1);
        long sectors = ((e & ~Qcow2Tables.COMPRESSED & ~Qcow2Tables.COPIED) >>> x) + 1;
        long end = (offset & ~511L) + sectors * 512;
        for (long c = offset / cs; c <= (end - 1) / cs; c++) {
            reference(c * cs, "compressed data of L2 entry " + j + " of table " + i);
        }
    }

    /**
     * Counts the persistent bitmaps' clusters (directory, bitmap tables, bitmap data) as qemu-img
     * does: only while autoclear bit 0 says the extension is consistent. Once a writer without
     * bitmap support cleared it, QEMU ignores the bitmaps and their clusters are leaks.
     */
    private void referenceBitmaps(Qcow2Header h) throws IOException {
        if (h.bitmaps.isEmpty() || (h.autoclearFeatures & Qcow2Header.AUTOCLEAR_BITMAPS) == 0) {
            return;
        }
        Qcow2Header.BitmapsExtension ext = h.bitmaps.get();
        long size = ext.directorySize();
        if (size <= 0 || size > MAX_BITMAP_DIRECTORY) {
            add("bad-bitmap", "bitmap directory size " + size + " is out of range");
            return;
        }
        if (!referenceRange(ext.directoryOffset(), size, "bitmap directory")) {
            return;
        }
        ByteBuffer dir = ByteBuffer.allocate((int) size);
        store.read(dir, ext.directoryOffset());
        int pos = 0;
        for (int n = 0; n < ext.count(); n++) {
            if (pos + 24 > size) {
                add("bad-bitmap", "bitmap directory ends before bitmap " + n + " of " + ext.count());
                return;
            }
            long tableOffset = dir.getLong(pos);
            long tableBytes = 8L * Integer.toUnsignedLong(dir.getInt(pos + 8));
            int nameSize = Short.toUnsignedInt(dir.getShort(pos + 18));
            long extra = Integer.toUnsignedLong(dir.getInt(pos + 20));
            long next = pos + ((24 + extra + nameSize + 7) & ~7L);
            if (next > size) {
                add("bad-bitmap", "bitmap " + n + "'s directory entry runs past the directory");
                return;
            }
            byte[] name = new byte[nameSize];
            dir.get(pos + 24 + (int) extra, name);
            String what = "bitmap \"" + new String(name, StandardCharsets.UTF_8) + "\"";
            if (referenceRange(tableOffset, tableBytes, "table of " + what)) {
                referenceBitmapData(tableOffset, tableBytes, what);
            }
            pos = (int) next;
        }
    }

    private void referenceBitmapData(long tableOffset, long tableBytes, String what) throws IOException {
        ByteBuffer cluster = ByteBuffer.allocate((int) cs);
        for (long at = 0; at < tableBytes; at += cs) {
            cluster.clear();
            store.read(cluster, tableOffset + at);
            for (int k = 0; k < Math.min(cs, tableBytes - at); k += 8) {
                long data = cluster.getLong(k) & BITMAP_ENTRY_OFFSET;
                if (data != 0) {
                    reference(data, "data cluster of " + what);
                }
            }
        }
    }

    /** Counts a reference to each cluster of {@code bytes} bytes at {@code offset}; false if any is invalid. */
    private boolean referenceRange(long offset, long bytes, String what) {
        boolean valid = true;
        for (long c = 0; c < (bytes + cs - 1) / cs; c++) {
            valid &= reference(offset + c * cs, what);
        }
        return valid;
    }

    /** Counts a reference to the cluster at {@code offset}; false (with a finding) when it is invalid. */
    private boolean reference(long offset, String what) {
        if (offset % cs != 0) {
            add("misaligned", what + " at " + offset + " is not cluster-aligned");
            return false;
        }
        if (offset >= fileSize) {
            add("outside-file", what + " at " + offset + " lies beyond the end of the file (" + fileSize + ")");
            return false;
        }
        references[(int) (offset / cs)]++;
        return true;
    }

    private void compareRefcounts(Qcow2Refcounts refcounts, long fileClusters) throws IOException {
        long leaked = 0;
        int tooLow = 0;
        for (long c = 0; c < fileClusters; c++) {
            int stored = refcounts.get(c);
            int refs = references[(int) c];
            if (stored < refs) {
                if (tooLow++ < MAX_LISTED) {
                    add("refcount-too-low", "cluster " + c + " (offset " + c * cs + ") has refcount " + stored
                            + " but " + refs + " reference(s)");
                }
            } else if (stored > refs) {
                leaked++;
            }
        }
        if (tooLow > MAX_LISTED) {
            add("refcount-too-low", (tooLow - MAX_LISTED) + " more clusters with too low refcounts");
        }
        if (leaked > 0) {
            add("leaked-clusters", leaked + " cluster(s) counted but not referenced (harmless; `qemu-img check "
                    + "-r leaks` frees them)");
        }
        int badCopied = 0;
        for (long[] check : copiedChecks) {
            boolean copied = (check[0] & Qcow2Tables.COPIED) != 0;
            if (copied != (refcounts.get(check[1] / cs) == 1) && badCopied++ < MAX_LISTED) {
                add("copied-flag", "entry 0x" + Long.toHexString(check[0]) + " has the COPIED flag "
                        + (copied ? "set" : "clear") + " but refcount " + refcounts.get(check[1] / cs));
            }
        }
    }
}
