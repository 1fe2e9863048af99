/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;
import org.dmcow.format.BaseImage;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * Reads a native space's metadata back: superblock, current checkpoint, table pages, then the
 * journal's commits since that checkpoint. Never writes. Shared by open (refuse at the first
 * problem) and check (collect them all).
 */
final class SpaceReader {
    /** Table pages read per I/O at start-up. */
    private static final int PAGES_PER_READ = 256;

    private final CowStore store;
    private final Findings findings;

    SpaceReader(CowStore store, Findings findings) {
        this.store = store;
        this.findings = findings;
    }

    /** Whether either superblock slot carries the native magic. */
    static boolean hasMagic(CowStore store) throws IOException {
        if (store.size() < Superblock.LENGTH) {
            return false;
        }
        for (int slot = 0; slot < 2; slot++) {
            ByteBuffer b = ByteBuffer.allocate(Superblock.LENGTH);
            store.read(b, (long) slot * Superblock.SLOT_SIZE);
            if (Superblock.hasMagic(b)) {
                return true;
            }
        }
        return false;
    }

    /** The space's state with its whole table, or null when a problem (reported) leaves nothing to read further. */
    SpaceState read(Optional<BaseImage> base) throws IOException, FormatException {
        return read(base, true);
    }

    /**
     * The space's state checked as {@link #read} checks it, but without the table: only the entries
     * of the chunks the journal names are kept ({@link SpaceState#journalChunks}), so what it holds
     * does not grow with the volume. For a read-only {@link NativeView}.
     */
    SpaceState readWithoutTable(Optional<BaseImage> base) throws IOException, FormatException {
        return read(base, false);
    }

    private SpaceState read(Optional<BaseImage> base, boolean wholeTable) throws IOException, FormatException {
        SpaceState s = new SpaceState();
        s.superblock = superblock();
        if (s.superblock == null) {
            return null;
        }
        Superblock sb = s.superblock;
        long needed = sb.dataEnd();
        if (store.size() < needed) {
            findings.found("space-too-small", "is " + store.size() + " bytes but the space recorded in it needs "
                    + needed);
            return null;
        }
        if (base.isPresent()) {
            checkBase(sb, base.get());
        }
        if (!checkpoint(s)) {
            return null;
        }
        Journal journal = journal(s);
        if (wholeTable) {
            s.table = new int[(int) sb.volumeChunks()];
        } else {
            s.journalChunks = new JournalChunks(journal.chunks(sb.volumeChunks()));
        }
        s.free = new FreeSpace(sb.dataChunks());
        tablePages(s);
        if (s.mappings != s.checkpointMappings) {
            findings.found("table-mismatch", "the table pages hold " + s.mappings + " mappings, but checkpoint "
                    + s.checkpointSeq + " recorded " + s.checkpointMappings + " (a page is missing or stale)");
        }
        s.free.rebuild();
        replay(s, journal);
        return s;
    }

    /** The newer valid superblock copy alone; refuses (through the findings) when there is none. */
    Superblock superblockOnly() throws IOException, FormatException {
        Superblock sb = superblock();
        if (sb == null) {
            throw new FormatException(store.path() + ": no valid superblock");
        }
        return sb;
    }

    private Superblock superblock() throws IOException, FormatException {
        Superblock.Slot[] slots = new Superblock.Slot[2];
        boolean magic = false;
        for (int i = 0; i < 2; i++) {
            ByteBuffer b = ByteBuffer.allocate(Superblock.LENGTH);
            store.read(b, (long) i * Superblock.SLOT_SIZE);
            magic |= Superblock.hasMagic(b);
            slots[i] = Superblock.decode(b);
        }
        if (!magic) {
            findings.found("not-native", "is not a native CoW space (no superblock magic)");
            return null;
        }
        Superblock best = null;
        for (Superblock.Slot slot : slots) {
            if (slot.valid() && (best == null || slot.superblock().generation() > best.generation())) {
                best = slot.superblock();
            }
        }
        for (int i = 0; i < 2; i++) {
            if (!slots[i].valid()) {
                String message = "superblock copy " + i + ": " + slots[i].problem();
                if (best == null) {
                    findings.found(slots[i].code(), message);
                } else {
                    findings.degraded(slots[i].code(), message);
                }
            }
        }
        return best;
    }

    private void checkBase(Superblock sb, BaseImage base) throws IOException, FormatException {
        if (base.size() != sb.baseSize()) {
            findings.found("wrong-base", "was made for a base of " + sb.baseSize() + " bytes, but " + base.path()
                    + " has " + base.size());
        } else if (Superblock.baseIdentity(base) != sb.baseIdentity()) {
            findings.found("wrong-base", "was made for another base: the content of " + base.path()
                    + " does not match the identity recorded in the superblock");
        }
    }

    private boolean checkpoint(SpaceState s) throws IOException, FormatException {
        byte[] uuid = s.superblock.uuid();
        ByteBuffer[] raw = new ByteBuffer[2];
        CheckpointHeader[] headers = new CheckpointHeader[2];
        int current = -1;
        for (int i = 0; i < 2; i++) {
            raw[i] = ByteBuffer.allocate(CheckpointHeader.LENGTH);
            store.read(raw[i], Superblock.CHECKPOINT_OFFSET + (long) i * CheckpointHeader.SLOT_SIZE);
            headers[i] = CheckpointHeader.decode(raw[i], uuid);
            if (headers[i] != null && (current < 0 || headers[i].seq() > headers[current].seq())) {
                current = i;
            }
        }
        if (current < 0) {
            findings.found("bad-checkpoint", "no valid checkpoint header in either slot");
            return false;
        }
        int other = 1 - current;
        // A damaged header that claims a newer checkpoint is the torn write of one that never
        // completed; one that claims an older or equal number was once complete and was damaged.
        if (headers[other] == null && !Checksums.allZero(raw[other], 0, CheckpointHeader.LENGTH)
                && CheckpointHeader.claimedSeq(raw[other]) <= headers[current].seq()) {
            findings.found("bad-checksum", "checkpoint header slot " + other + " does not verify");
        }
        s.checkpointSeq = headers[current].seq();
        s.checkpointSlot = current;
        s.lastCommit = headers[current].lastCommit();
        s.checkpointMappings = headers[current].mappings();
        s.nextCheckpointSeq = s.checkpointSeq + 1;
        if (headers[other] != null) {
            s.nextCheckpointSeq = Math.max(s.nextCheckpointSeq, headers[other].seq() + 1);
        }
        return true;
    }

    private void tablePages(SpaceState s) throws IOException, FormatException {
        Superblock sb = s.superblock;
        byte[] uuid = sb.uuid();
        long pages = sb.tablePages();
        ByteBuffer buf = ByteBuffer.allocate(PAGES_PER_READ * 2 * TablePage.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int[] scratch = s.table == null ? new int[TablePage.ENTRIES] : null;
        for (long first = 0; first < pages; first += PAGES_PER_READ) {
            int n = (int) Math.min(PAGES_PER_READ, pages - first);
            buf.clear().limit(n * 2 * TablePage.SIZE);
            store.read(buf, sb.pageOffset(first, 0));
            buf.flip();
            for (int i = 0; i < n; i++) {
                page(s, buf, i * 2 * TablePage.SIZE, first + i, uuid, scratch);
            }
        }
    }

    /**
     * Picks the newest copy of one page that belongs to a completed checkpoint, and loads it: into
     * the whole table, or (without one) into {@code scratch}, keeping the journal's chunks.
     */
    private void page(SpaceState s, ByteBuffer buf, int at, long page, byte[] uuid, int[] scratch)
            throws FormatException {
        for (int copy = 0; copy < 2; copy++) {
            int copyAt = at + copy * TablePage.SIZE;
            TablePage.State state = TablePage.state(buf, copyAt, uuid, page);
            if (state == TablePage.State.BLANK) {
                continue;
            }
            long seq = TablePage.seq(buf, copyAt);
            if (seq > s.checkpointSeq) {
                // Written by a checkpoint that never completed: ignored, and rewritten by the next.
                s.dirtyPages.set((int) page);
                s.nextCheckpointSeq = Math.max(s.nextCheckpointSeq, seq + 1);
            } else if (state == TablePage.State.DAMAGED) {
                findings.found("bad-checksum", "table page " + page + " copy " + copy + " does not verify");
            }
        }
        int chosen = TablePage.currentCopy(buf, at, uuid, page, s.checkpointSeq);
        if (chosen < 0) {
            s.copyOneCurrent.set((int) page); // both blank: write copy 0 first
            return;
        }
        if (chosen == 1) {
            s.copyOneCurrent.set((int) page);
        }
        int copyAt = at + chosen * TablePage.SIZE;
        long from = page * TablePage.ENTRIES;
        int used = (int) Math.min(TablePage.ENTRIES, s.superblock.volumeChunks() - from);
        if (!TablePage.tailClear(buf, copyAt, used)) {
            findings.found("out-of-range", "table page " + page + " maps chunks past the end of the volume");
        }
        int[] entries = s.table != null ? s.table : scratch;
        int first = s.table != null ? (int) from : 0;
        TablePage.decode(buf, copyAt, entries, first, used);
        long dataChunks = s.superblock.dataChunks();
        for (int i = first; i < first + used; i++) {
            int entry = entries[i];
            if (entry == 0) {
                continue;
            }
            long v = from + (i - first);
            long d = Integer.toUnsignedLong(entry) - 1;
            if (d >= dataChunks) {
                findings.found("out-of-range", "chunk " + v + " is mapped to data chunk " + d
                        + ", outside the data area of " + dataChunks + " chunks");
                entries[i] = 0;
            } else if (s.free.used(d)) {
                findings.found("double-mapping", "chunk " + v + " is mapped to data chunk " + d
                        + ", which another chunk already uses");
                entries[i] = 0;
            } else {
                s.free.markUsedDeferred(d);
                s.mappings++;
            }
        }
        if (s.journalChunks != null) {
            s.journalChunks.takeFrom(from, used, entries, first);
        }
    }

    /**
     * The current epoch's valid records, read before the table and replayed after it: the offset of
     * each, the bytes they take, and the damage found after the last one (reported once the valid
     * ones are replayed, as found in journal order).
     */
    private record Journal(ByteBuffer bytes, int[] records, int used, String damage) {
        /** Every volume chunk the records name that lies inside a volume of {@code volumeChunks}. */
        long[] chunks(long volumeChunks) {
            int n = 0;
            for (int at : records) {
                n += JournalRecord.count(bytes, at);
            }
            long[] chunks = new long[n];
            int k = 0;
            for (int at : records) {
                for (int i = 0; i < JournalRecord.count(bytes, at); i++) {
                    long v = JournalRecord.chunk(bytes, at, i);
                    if (v >= 0 && v < volumeChunks) {
                        chunks[k++] = v;
                    }
                }
            }
            return Arrays.copyOf(chunks, k);
        }
    }

    private Journal journal(SpaceState s) throws IOException {
        Superblock sb = s.superblock;
        JournalReader reader = new JournalReader(store, sb);
        int[] records = new int[16];
        int n = 0;
        String damage = null;
        int at = 0;
        long seq = s.lastCommit + 1;
        while (true) {
            ByteBuffer journal = reader.record(at);
            JournalRecord.State state = JournalRecord.state(journal, at, sb.uuid(), s.checkpointSeq, seq);
            if (state == JournalRecord.State.END) {
                break;
            }
            int count = JournalRecord.count(journal, at);
            if (state == JournalRecord.State.BAD) {
                // A torn last record is expected after a crash. But a valid record after it means
                // this one was once complete (the next is written only after this one is durable).
                long next = at + JournalRecord.length(Integer.toUnsignedLong(count));
                if (next < sb.journalSize() && JournalRecord.state(reader.record((int) next), (int) next, sb.uuid(),
                        s.checkpointSeq, seq + 1) == JournalRecord.State.VALID) {
                    damage = "journal record of commit " + seq + " at journal offset " + at
                            + " does not verify, but later commits do";
                }
                break;
            }
            if (n == records.length) {
                records = Arrays.copyOf(records, 2 * n);
            }
            records[n++] = at;
            at += (int) JournalRecord.length(count);
            seq++;
        }
        return new Journal(reader.bytes, Arrays.copyOf(records, n), at, damage);
    }

    private void replay(SpaceState s, Journal journal) throws FormatException {
        long seq = s.lastCommit + 1;
        for (int at : journal.records()) {
            for (int i = 0; i < JournalRecord.count(journal.bytes(), at); i++) {
                replay(s, JournalRecord.chunk(journal.bytes(), at, i), JournalRecord.place(journal.bytes(), at, i),
                        seq);
            }
            seq++;
        }
        if (journal.damage() != null) {
            findings.found("bad-checksum", journal.damage());
        }
        s.free.rebuild();
        s.journalUsed = journal.used();
        s.lastCommit = seq - 1;
    }

    private void replay(SpaceState s, long v, long d, long seq) throws FormatException {
        long volumeChunks = s.superblock.volumeChunks();
        if (d == JournalRecord.UNMAPPED && v >= 0 && v < volumeChunks) {
            unmap(s, v);
            return;
        }
        if (v < 0 || v >= volumeChunks || d < 0 || d >= s.superblock.dataChunks()) {
            findings.found("out-of-range", "commit " + seq + " maps chunk " + v + " to data chunk " + d
                    + ", outside the volume (" + volumeChunks + " chunks) or the data area ("
                    + s.superblock.dataChunks() + " chunks)");
            return;
        }
        int entry = s.table != null ? s.table[(int) v] : s.journalChunks.entry(v);
        if (entry == d + 1) {
            return;
        }
        if (entry != 0) {
            findings.found("chunk-mapped-twice", "commit " + seq + " maps chunk " + v + " to data chunk " + d
                    + ", but it is already mapped to data chunk " + (Integer.toUnsignedLong(entry) - 1));
        } else if (s.free.used(d) && !s.unmapped.remove(d)) {
            findings.found("double-mapping", "commit " + seq + " maps chunk " + v + " to data chunk " + d
                    + ", which another chunk already uses");
        } else {
            setEntry(s, v, (int) (d + 1));
            if (!s.free.used(d)) {
                s.free.markUsedDeferred(d); // else a place an earlier entry unmapped, reused
            }
            s.mappings++;
        }
    }

    /** An unmap entry: the chunk's place stays in use, in {@link SpaceState#unmapped}; repeated, nothing. */
    private void unmap(SpaceState s, long v) {
        int entry = s.table != null ? s.table[(int) v] : s.journalChunks.entry(v);
        if (entry == 0) {
            return;
        }
        setEntry(s, v, 0);
        s.unmapped.add(Integer.toUnsignedLong(entry) - 1);
        s.mappings--;
    }

    private static void setEntry(SpaceState s, long v, int entry) {
        if (s.table != null) {
            s.table[(int) v] = entry;
        } else {
            s.journalChunks.set(v, entry);
        }
        s.dirtyPages.set((int) (v / TablePage.ENTRIES));
    }
}
