/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The commit point of a checkpoint: once written, table page copies up to {@code seq} are current
 * and the journal restarts as epoch {@code seq} after commit {@code lastCommit}. Two slots, written
 * alternately, so a torn header leaves the previous checkpoint intact. {@code mappings} counts the
 * table's mappings: since mappings are only ever added, an older copy of any page read in place
 * of the current one shows as fewer.
 */
record CheckpointHeader(long seq, long lastCommit, long mappings) {
    static final int MAGIC = 0x54504b43; // "CKPT"
    static final int SLOT_SIZE = 4096;
    static final int LENGTH = 512;

    ByteBuffer encode(byte[] uuid) {
        ByteBuffer b = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, MAGIC).putLong(8, seq).putLong(16, lastCommit).putLong(24, mappings);
        b.putInt(4, Checksums.of(uuid, b, 8, LENGTH));
        return b;
    }

    /** The header in {@code raw}, or null when it is blank or does not verify. */
    static CheckpointHeader decode(ByteBuffer raw, byte[] uuid) {
        ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != MAGIC || b.getInt(4) != Checksums.of(uuid, b, 8, LENGTH)) {
            return null;
        }
        return new CheckpointHeader(b.getLong(8), b.getLong(16), b.getLong(24));
    }

    /** The sequence number a damaged header claims (meaningful only when its first bytes were written). */
    static long claimedSeq(ByteBuffer raw) {
        return raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(8);
    }
}
