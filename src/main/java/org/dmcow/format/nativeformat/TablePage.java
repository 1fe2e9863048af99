/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One 4 KiB page of the checkpointed mapping table: {@link #ENTRIES} volume chunks, each a 32-bit
 * data chunk number plus one (0: unmapped). Every page has two copies; a checkpoint writes the one
 * not in use, so a torn page write leaves the other.
 */
final class TablePage {
    static final int SIZE = 4096;
    static final int HEADER = 16;
    static final int ENTRIES = (SIZE - HEADER) / 4;

    private TablePage() {
    }

    /** Encodes entries {@code table[page * ENTRIES ...]} into {@code dst} (SIZE bytes, from its position). */
    static void encode(ByteBuffer dst, byte[] uuid, int[] table, long page, long seq) {
        ByteBuffer b = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        int from = (int) (page * ENTRIES);
        int n = Math.min(ENTRIES, table.length - from);
        b.putInt(4, (int) page).putLong(8, seq);
        b.position(HEADER);
        b.asIntBuffer().put(table, from, n);
        for (int i = HEADER + 4 * n; i < SIZE; i++) {
            b.put(i, (byte) 0);
        }
        b.putInt(0, Checksums.of(uuid, b, 4, SIZE));
        dst.position(dst.position() + SIZE);
    }

    enum State {
        /** Never written: every byte zero. */
        BLANK,
        VALID,
        /** Written but does not verify: torn, or damaged. */
        DAMAGED
    }

    /** The state of the copy at {@code raw[at, at + SIZE)}, which should hold page {@code page}. */
    static State state(ByteBuffer raw, int at, byte[] uuid, long page) {
        ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(at) == Checksums.of(uuid, b, at + 4, at + SIZE) && b.getInt(at + 4) == (int) page) {
            return State.VALID;
        }
        return Checksums.allZero(b, at, at + SIZE) ? State.BLANK : State.DAMAGED;
    }

    /** The checkpoint sequence number in the copy at {@code at} (claimed, for a damaged one). */
    static long seq(ByteBuffer raw, int at) {
        return raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(at + 8);
    }

    /**
     * Which copy of page {@code page} at {@code raw[at, at + 2 * SIZE)} is current: the newest that
     * verifies and was written by a checkpoint not newer than {@code checkpointSeq}; -1 when neither
     * is (the page is empty).
     */
    static int currentCopy(ByteBuffer raw, int at, byte[] uuid, long page, long checkpointSeq) {
        int chosen = -1;
        long chosenSeq = -1;
        for (int copy = 0; copy < 2; copy++) {
            int copyAt = at + copy * SIZE;
            long seq = seq(raw, copyAt);
            if (seq <= checkpointSeq && seq > chosenSeq && state(raw, copyAt, uuid, page) == State.VALID) {
                chosen = copy;
                chosenSeq = seq;
            }
        }
        return chosen;
    }

    /** Copies the first {@code n} entries of the copy at {@code at} into {@code dst} from {@code dstAt}. */
    static void decode(ByteBuffer raw, int at, int[] dst, int dstAt, int n) {
        raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).position(at + HEADER).asIntBuffer().get(dst, dstAt, n);
    }

    /** True when the entries past the volume's last chunk in a final page are all zero. */
    static boolean tailClear(ByteBuffer raw, int at, int used) {
        return Checksums.allZero(raw, at + HEADER + 4 * used, at + SIZE);
    }
}
