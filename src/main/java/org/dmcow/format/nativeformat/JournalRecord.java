/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One commit in the journal: a group of mappings (an entry whose place is {@link #UNMAPPED} unmaps
 * its chunk), checksummed, numbered, padded to 512-byte sectors. A record verifies only when all
 * of it was written, so recovery stops at a torn one.
 */
final class JournalRecord {
    static final int MAGIC = 0x4c4e524a; // "JRNL"
    static final int HEADER = 32;
    static final int ENTRY = 16;
    static final int SECTOR = 512;
    /** The place of an unmap entry: the chunk is unmapped (it was discarded whole). */
    static final long UNMAPPED = -1;

    private JournalRecord() {
    }

    /** Bytes a record of {@code count} mappings occupies. */
    static long length(long count) {
        return (HEADER + count * ENTRY + SECTOR - 1) / SECTOR * SECTOR;
    }

    /** Encodes mappings ({@code chunks[i]} to data chunk {@code places[i]}) of commit {@code seq}. */
    static ByteBuffer encode(byte[] uuid, long epoch, long seq, long[] chunks, long[] places, int count) {
        ByteBuffer b = ByteBuffer.allocate((int) length(count)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, MAGIC).putLong(8, epoch).putLong(16, seq).putInt(24, count);
        for (int i = 0; i < count; i++) {
            b.putLong(HEADER + i * ENTRY, chunks[i]).putLong(HEADER + i * ENTRY + 8, places[i]);
        }
        b.putInt(4, Checksums.of(uuid, b, 8, HEADER + count * ENTRY));
        return b;
    }

    /** How the bytes at {@code at} read as the record expected next. */
    enum State {
        /** Not the expected record (another epoch or number, or never written): the journal ends. */
        END,
        /** The expected header but the record does not verify: torn, or damaged. */
        BAD,
        VALID
    }

    static State state(ByteBuffer journal, int at, byte[] uuid, long epoch, long seq) {
        ByteBuffer b = journal.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (at + HEADER > b.limit() || b.getInt(at) != MAGIC || b.getLong(at + 8) != epoch
                || b.getLong(at + 16) != seq) {
            return State.END;
        }
        long count = Integer.toUnsignedLong(b.getInt(at + 24));
        if (at + HEADER + count * ENTRY > b.limit()) {
            return State.BAD;
        }
        int end = at + HEADER + (int) count * ENTRY;
        return b.getInt(at + 4) == Checksums.of(uuid, b, at + 8, end) ? State.VALID : State.BAD;
    }

    // The accessors below read a little-endian buffer as given (they run per entry at start-up).

    static int count(ByteBuffer journal, int at) {
        return journal.getInt(at + 24);
    }

    static long chunk(ByteBuffer journal, int at, int i) {
        return journal.getLong(at + HEADER + i * ENTRY);
    }

    static long place(ByteBuffer journal, int at, int i) {
        return journal.getLong(at + HEADER + i * ENTRY + 8);
    }
}
