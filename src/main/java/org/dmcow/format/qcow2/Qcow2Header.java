/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * The qcow2 header (QEMU docs/interop/qcow2.rst), its header extensions and backing file name, as
 * read from cluster 0. Parsing only rejects what is not a qcow2 file at all; {@link #requireServable}
 * rejects the features the daemon cannot serve.
 */
final class Qcow2Header {
    static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V3_HEADER_LENGTH = 112;
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_FEATURE_NAMES = 0x6803f857;
    static final int EXT_EXTERNAL_DATA_FILE = 0x44415441;
    static final int EXT_BITMAPS = 0x23852875;
    /** Autoclear bit 0: the bitmaps extension is consistent (a writer without bitmap support clears it). */
    static final long AUTOCLEAR_BITMAPS = 1L;

    static final long INCOMPAT_DIRTY = 1L;
    static final long INCOMPAT_CORRUPT = 1L << 1;
    static final long INCOMPAT_DATA_FILE = 1L << 2;
    static final long INCOMPAT_COMPRESSION_TYPE = 1L << 3;
    static final long INCOMPAT_EXTENDED_L2 = 1L << 4;
    static final long INCOMPAT_KNOWN = (1L << 5) - 1;

    /** Header field offsets that are rewritten in place. */
    static final int OFF_REFCOUNT_TABLE = 48;
    static final int OFF_AUTOCLEAR = 88;

    final Path file;
    final int version;
    final long backingFileOffset;
    final int backingFileSize;
    final int clusterBits;
    final long size;
    final int cryptMethod;
    final int l1Size;
    final long l1TableOffset;
    final long refcountTableOffset;
    final int refcountTableClusters;
    final int nbSnapshots;
    final long incompatibleFeatures;
    final long compatibleFeatures;
    final long autoclearFeatures;
    final int refcountOrder;
    final int headerLength;
    final Optional<String> backingFile;
    final Optional<String> backingFormat;
    final Optional<BitmapsExtension> bitmaps;

    /** The bitmaps extension: where the bitmap directory lies. */
    record BitmapsExtension(int count, long directorySize, long directoryOffset) {
    }

    private Qcow2Header(Path file, ByteBuffer b, Optional<String> backingFile, Extensions extensions) {
        this.file = file;
        this.version = b.getInt(4);
        this.backingFileOffset = b.getLong(8);
        this.backingFileSize = b.getInt(16);
        this.clusterBits = b.getInt(20);
        this.size = b.getLong(24);
        this.cryptMethod = b.getInt(32);
        this.l1Size = b.getInt(36);
        this.l1TableOffset = b.getLong(40);
        this.refcountTableOffset = b.getLong(48);
        this.refcountTableClusters = b.getInt(56);
        this.nbSnapshots = b.getInt(60);
        boolean v3 = version >= 3;
        this.incompatibleFeatures = v3 ? b.getLong(72) : 0;
        this.compatibleFeatures = v3 ? b.getLong(80) : 0;
        this.autoclearFeatures = v3 ? b.getLong(88) : 0;
        this.refcountOrder = v3 ? b.getInt(96) : 4;
        this.headerLength = v3 ? b.getInt(100) : 72;
        this.backingFile = backingFile;
        this.backingFormat = extensions.backingFormat;
        this.bitmaps = extensions.bitmaps;
    }

    long clusterSize() {
        return 1L << clusterBits;
    }

    /** Reads and parses the header; refuses files that are not qcow2 or whose header is unreadable. */
    static Qcow2Header read(CowStore store) throws IOException, FormatException {
        Path file = store.path();
        long fileSize = store.size();
        if (fileSize < 104) {
            throw new FormatException(file + ": not a qcow2 image (only " + fileSize + " bytes)");
        }
        ByteBuffer first = ByteBuffer.allocate(104);
        store.read(first, 0);
        if (first.getInt(0) != MAGIC) {
            throw new FormatException(file + ": not a qcow2 image (bad magic)");
        }
        int bits = first.getInt(20);
        if (bits < 9 || bits > 21) {
            throw new FormatException(file + ": corrupt qcow2 header: cluster_bits " + bits);
        }
        int clusterSize = 1 << bits;
        ByteBuffer c0 = ByteBuffer.allocate((int) Math.min(clusterSize, fileSize));
        store.read(c0, 0);
        int version = c0.getInt(4);
        Extensions extensions = new Extensions(Optional.empty(), Optional.empty());
        if (version >= 3) {
            int headerLength = c0.getInt(100);
            if (headerLength < 104 || headerLength % 8 != 0 || headerLength > c0.capacity()) {
                throw new FormatException(file + ": corrupt qcow2 header: header_length " + headerLength);
            }
            extensions = readExtensions(file, c0, headerLength);
        } else if (version == 2) {
            extensions = readExtensions(file, c0, 72);
        }
        long nameOffset = c0.getLong(8);
        int nameSize = c0.getInt(16);
        Optional<String> name = Optional.empty();
        if (nameOffset != 0) {
            if (nameSize <= 0 || nameSize > 1023 || nameOffset + nameSize > c0.capacity()) {
                throw new FormatException(file + ": corrupt qcow2 header: backing file name at " + nameOffset
                        + " size " + nameSize + " is not inside the first cluster");
            }
            byte[] bytes = new byte[nameSize];
            c0.get((int) nameOffset, bytes);
            name = Optional.of(new String(bytes, StandardCharsets.UTF_8));
        }
        return new Qcow2Header(file, c0, name, extensions);
    }

    private record Extensions(Optional<String> backingFormat, Optional<BitmapsExtension> bitmaps) {
    }

    private static Extensions readExtensions(Path file, ByteBuffer c0, int start) throws FormatException {
        Optional<String> format = Optional.empty();
        Optional<BitmapsExtension> bitmaps = Optional.empty();
        int pos = start;
        while (true) {
            if (pos + 8 > c0.capacity()) {
                throw new FormatException(file + ": corrupt qcow2 header: header extensions run past the first cluster");
            }
            int type = c0.getInt(pos);
            int length = c0.getInt(pos + 4);
            if (type == EXT_END) {
                return new Extensions(format, bitmaps);
            }
            if (length < 0 || pos + 8L + length > c0.capacity()) {
                throw new FormatException(file + ": corrupt qcow2 header: extension 0x" + Integer.toHexString(type)
                        + " of " + length + " bytes runs past the first cluster");
            }
            if (type == EXT_BACKING_FORMAT) {
                byte[] bytes = new byte[length];
                c0.get(pos + 8, bytes);
                format = Optional.of(new String(bytes, StandardCharsets.UTF_8));
            } else if (type == EXT_BITMAPS && length >= 24) {
                bitmaps = Optional.of(new BitmapsExtension(c0.getInt(pos + 8), c0.getLong(pos + 16),
                        c0.getLong(pos + 24)));
            }
            pos += 8 + ((length + 7) & ~7);
        }
    }

    /**
     * Refuses what the daemon cannot serve correctly, naming the file and the feature. Compression
     * type (incompatible bit 3) is accepted: it only describes compressed clusters, which are
     * refused one by one when the tables are read.
     */
    void requireServable() throws FormatException {
        requireReadable();
        if (backingFile.isEmpty()) {
            throw refuse("has no backing file; a qcow2 CoW space needs the base as its raw backing file");
        }
        if (backingFormat.isEmpty()) {
            throw refuse("does not record its backing file format; declare it raw with `qemu-img rebase -u -b "
                    + backingFile.get() + " -F raw " + file + "`");
        }
        if (!backingFormat.get().equals("raw")) {
            throw refuse("has a backing file in format \"" + backingFormat.get() + "\"; only a raw backing file "
                    + "is supported");
        }
    }

    /**
     * Refuses what cannot be read correctly as an image of its own, whatever its backing file:
     * {@link #requireServable} but for the backing file.
     */
    void requireReadable() throws FormatException {
        if (version == 2) {
            throw refuse("is a version 2 qcow2 image (no zero clusters); upgrade it with "
                    + "`qemu-img amend -o compat=1.1 " + file + "`");
        }
        if (version != 3) {
            throw refuse("has unsupported qcow2 version " + version);
        }
        if ((incompatibleFeatures & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT)) != 0) {
            String which = (incompatibleFeatures & INCOMPAT_CORRUPT) != 0 ? "corrupt" : "dirty";
            throw refuse("has the " + which + " bit set; repair it with `qemu-img check -r all " + file + "`");
        }
        if (cryptMethod != 0) {
            throw refuse("uses encryption (crypt_method " + cryptMethod + "), which is not supported");
        }
        if ((incompatibleFeatures & INCOMPAT_DATA_FILE) != 0) {
            throw refuse("uses an external data file, which is not supported");
        }
        if ((incompatibleFeatures & INCOMPAT_EXTENDED_L2) != 0) {
            throw refuse("uses extended L2 entries (subclusters), which are not supported");
        }
        long unknown = incompatibleFeatures & ~INCOMPAT_KNOWN;
        if (unknown != 0) {
            throw refuse("has unknown incompatible feature bits " + bitList(unknown));
        }
        if (refcountOrder != 4) {
            throw refuse("has " + (1 << refcountOrder) + "-bit refcounts; only 16-bit refcounts (refcount_bits=16) "
                    + "are supported");
        }
        if (nbSnapshots != 0) {
            throw refuse("has " + nbSnapshots + " internal snapshot(s), which are not supported; delete them with "
                    + "`qemu-img snapshot -d`");
        }
        if (clusterBits < 12) {
            throw refuse("has cluster size " + clusterSize() + "; the smallest supported chunk is 4096 bytes");
        }
    }

    private FormatException refuse(String what) {
        return new FormatException(file + ": qcow2 image " + what);
    }

    static String bitList(long bits) {
        List<String> list = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            if ((bits & (1L << i)) != 0) {
                list.add(Integer.toString(i));
            }
        }
        return String.join(", ", list);
    }
}
