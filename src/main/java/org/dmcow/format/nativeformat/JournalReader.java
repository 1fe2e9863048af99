/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.dmcow.format.CowStore;

/**
 * The journal read as far as its records go, not whole: a space's journal is 8 MiB, mostly
 * never written, and reading all of it for each volume at start-up was most of the daemon's
 * start (256 volumes: 2 GiB read and allocated).
 */
final class JournalReader {
    private static final int FIRST_READ = 64 << 10;
    private final CowStore store;
    private final long offset;
    private final int size;
    /** The bytes read so far, [0, limit). */
    ByteBuffer bytes = ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);

    JournalReader(CowStore store, Superblock sb) {
        this.store = store;
        this.offset = sb.journalOffset();
        this.size = (int) sb.journalSize();
    }

    /** Reads enough that the record at {@code at} is in {@link #bytes}, as far as the journal goes. */
    ByteBuffer record(int at) throws IOException {
        ensure((long) at + JournalRecord.HEADER);
        if (at + JournalRecord.HEADER <= bytes.limit()) {
            long count = Integer.toUnsignedLong(bytes.getInt(at + 24));
            ensure(at + JournalRecord.HEADER + count * JournalRecord.ENTRY);
        }
        return bytes;
    }

    private void ensure(long end) throws IOException {
        int want = (int) Math.min(size, end);
        if (want <= bytes.limit()) {
            return;
        }
        int grown = (int) Math.min(size, Math.max(want, Math.max(FIRST_READ, 2L * bytes.limit())));
        ByteBuffer b = ByteBuffer.allocate(grown).order(ByteOrder.LITTLE_ENDIAN);
        b.put(bytes.duplicate().position(0));
        store.read(b, offset + bytes.limit());
        bytes = b.flip();
    }
}
