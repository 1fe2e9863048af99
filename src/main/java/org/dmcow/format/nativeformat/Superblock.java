/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import org.dmcow.format.BaseImage;

/**
 * The native format's superblock: identity, geometry and layout. Two copies (slots at 0 and 4096)
 * so a torn rewrite (only when the data area grows) leaves one intact. See docs/format-native.md.
 */
record Superblock(int version, long incompatFeatures, long compatFeatures, byte[] uuid, long generation,
        long chunkSize, long baseSize, int baseIdentity, long journalOffset, long journalSize, long tableOffset,
        long tablePages, long dataOffset, long dataChunks) {

    static final byte[] MAGIC = "DMCOWNAT".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /**
     * Incompatible feature bit 0: the journal may hold unmap entries (a discarded chunk). Set
     * before the first one is written, so a build that cannot read them refuses the space rather
     * than keeping the chunk mapped to a place that is free again.
     */
    static final long INCOMPAT_UNMAP = 1;
    /** Incompatible features this code understands. */
    static final long KNOWN_INCOMPAT = INCOMPAT_UNMAP;
    static final int SLOT_SIZE = 4096;
    /** Bytes of a slot that are written and checksummed (one sector: a write of it cannot tear). */
    static final int LENGTH = 512;
    private static final int CRC_AT = 136;
    /** Checkpoint header slots follow the two superblock slots. */
    static final long CHECKPOINT_OFFSET = 2L * SLOT_SIZE;
    static final long JOURNAL_OFFSET = CHECKPOINT_OFFSET + 2L * CheckpointHeader.SLOT_SIZE;
    /** The largest data area: places are stored as 32-bit chunk numbers. */
    static final long MAX_DATA_CHUNKS = Integer.MAX_VALUE - 1L;

    /** Where page {@code page}'s copy {@code copy} (0 or 1) of the mapping table lives. */
    long pageOffset(long page, int copy) {
        return tableOffset + (2 * page + copy) * TablePage.SIZE;
    }

    long volumeChunks() {
        return (baseSize + chunkSize - 1) / chunkSize;
    }

    long dataEnd() {
        return dataOffset + dataChunks * chunkSize;
    }

    Superblock withDataChunks(long chunks) {
        return new Superblock(version, incompatFeatures, compatFeatures, uuid, generation + 1, chunkSize, baseSize,
                baseIdentity, journalOffset, journalSize, tableOffset, tablePages, dataOffset, chunks);
    }

    Superblock withIncompatFeatures(long bits) {
        return new Superblock(version, incompatFeatures | bits, compatFeatures, uuid, generation + 1, chunkSize,
                baseSize, baseIdentity, journalOffset, journalSize, tableOffset, tablePages, dataOffset, dataChunks);
    }

    /** A new space's superblock, laid out for {@code baseSize} and a store of {@code storeSize} bytes. */
    static Superblock layout(byte[] uuid, long chunkSize, long baseSize, int baseIdentity, long journalSize,
            long storeSize) {
        long volumeChunks = (baseSize + chunkSize - 1) / chunkSize;
        long pages = (volumeChunks + TablePage.ENTRIES - 1) / TablePage.ENTRIES;
        long tableOffset = JOURNAL_OFFSET + journalSize;
        long metadataEnd = tableOffset + 2 * pages * TablePage.SIZE;
        long dataOffset = (metadataEnd + chunkSize - 1) / chunkSize * chunkSize;
        long dataChunks = Math.min(MAX_DATA_CHUNKS, Math.max(0, (storeSize - dataOffset) / chunkSize));
        return new Superblock(VERSION, 0, 0, uuid, 1, chunkSize, baseSize, baseIdentity, JOURNAL_OFFSET, journalSize,
                tableOffset, pages, dataOffset, dataChunks);
    }

    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(version).putInt(CRC_AT + 4).putLong(incompatFeatures).putLong(compatFeatures).put(uuid)
                .putLong(generation).putLong(chunkSize).putLong(baseSize).putInt(baseIdentity).putInt(0)
                .putLong(CHECKPOINT_OFFSET).putLong(journalOffset).putLong(journalSize).putLong(tableOffset)
                .putLong(tablePages).putLong(dataOffset).putLong(dataChunks);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, CRC_AT);
        b.putInt(CRC_AT, (int) crc.getValue());
        return b.clear();
    }

    static boolean hasMagic(ByteBuffer slot) {
        for (int i = 0; i < MAGIC.length; i++) {
            if (slot.get(i) != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /** One slot decoded: the superblock, or why it is unusable ({@code code} as in check findings). */
    record Slot(Superblock superblock, String code, String problem) {
        boolean valid() {
            return superblock != null;
        }
    }

    static Slot decode(ByteBuffer raw) {
        ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (!hasMagic(b)) {
            return new Slot(null, "bad-superblock", "no native superblock magic");
        }
        int version = b.getInt(8);
        if (version != VERSION) {
            return new Slot(null, "unknown-version", "format version " + Integer.toUnsignedString(version)
                    + " is not supported (this build reads version " + VERSION + ")");
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(CRC_AT));
        if ((int) crc.getValue() != b.getInt(CRC_AT)) {
            return new Slot(null, "bad-checksum", "superblock checksum mismatch");
        }
        long incompat = b.getLong(16);
        if ((incompat & ~KNOWN_INCOMPAT) != 0) {
            return new Slot(null, "unknown-feature", String.format(
                    "unknown incompatible feature bits 0x%x", incompat & ~KNOWN_INCOMPAT));
        }
        byte[] uuid = new byte[16];
        b.get(32, uuid);
        Superblock s = new Superblock(version, incompat, b.getLong(24), uuid, b.getLong(48), b.getLong(56),
                b.getLong(64), b.getInt(72), b.getLong(88), b.getLong(96), b.getLong(104), b.getLong(112),
                b.getLong(120), b.getLong(128));
        String bad = s.inconsistency(b.getLong(80));
        return bad == null ? new Slot(s, null, null) : new Slot(null, "bad-superblock", bad);
    }

    /** Why a checksummed superblock still cannot describe a usable space, or null. */
    private String inconsistency(long checkpointOffset) {
        if (chunkSize < 4096 || Long.bitCount(chunkSize) != 1) {
            return "chunk size " + chunkSize + " is not a power of two of at least 4096";
        }
        long pages = (volumeChunks() + TablePage.ENTRIES - 1) / TablePage.ENTRIES;
        if (checkpointOffset != CHECKPOINT_OFFSET || journalOffset != JOURNAL_OFFSET || journalSize < 512
                || journalSize % 512 != 0 || journalSize > (1L << 30) || tableOffset != journalOffset + journalSize
                || tablePages != pages
                || dataOffset < tableOffset + 2 * pages * TablePage.SIZE || dataOffset % chunkSize != 0
                || dataChunks < 0 || dataChunks > MAX_DATA_CHUNKS) {
            return "inconsistent layout (journal " + journalOffset + "+" + journalSize + ", table " + tableOffset
                    + " x" + tablePages + ", data " + dataOffset + " x" + dataChunks + ")";
        }
        return null;
    }

    /**
     * The base's identity: CRC32C over its size and its first, middle and last 4 KiB. Cheap enough
     * to check at every open, and tells apart the bases an operator is likely to mix up.
     */
    static int baseIdentity(BaseImage base) throws IOException {
        long size = base.size();
        CRC32C crc = new CRC32C();
        crc.update(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, size));
        long middle = size / 2 / 4096 * 4096;
        for (long at : new long[] {0, middle, Math.max(0, size - 4096)}) {
            ByteBuffer block = ByteBuffer.allocate((int) Math.min(4096, size - at));
            base.read(block, at);
            crc.update(block.flip());
        }
        return (int) crc.getValue();
    }
}
