/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each planted corruption is found by {@code check} under its code, and refused by open. */
class NativeCheckTest {
    private static final long CHUNK = 4096;
    private static final long BASE_SIZE = 3000 * CHUNK;
    private static final long JOURNAL = 4096;

    @TempDir
    Path dir;
    private Path base;
    private Path cow;

    @BeforeEach
    void spaceWithCheckpointAndJournal() throws Exception {
        base = TestSpaces.base(dir, "base", BASE_SIZE, 1);
        cow = dir.resolve("cow");
        TestSpaces.format(base, cow, CHUNK, JOURNAL);
        try (FileBaseImage b = FileBaseImage.open(base);
                CowSpace space = new NativeFormat().open(FileCowStore.open(cow, false, null), b)) {
            // 300 mappings do not fit a 4 KiB journal: committed by a checkpoint; then two journal commits.
            commitRange(space, 0, 300);
            commitRange(space, 1000, 1010);
            commitRange(space, 2000, 2010);
        }
    }

    private static void commitRange(CowSpace space, int from, int to) throws Exception {
        List<CowSpace.Mapping> group = new java.util.ArrayList<>();
        for (int v = from; v < to; v++) {
            group.add(new CowSpace.Mapping(v, space.place(v).place()));
        }
        space.commit(group);
    }

    private CheckReport check(Path other) throws Exception {
        try (FileCowStore s = FileCowStore.openReadOnly(cow); FileBaseImage b = FileBaseImage.open(other)) {
            return new NativeFormat().check(s, Optional.of(b));
        }
    }

    private SpaceState state() throws Exception {
        try (FileCowStore s = FileCowStore.openReadOnly(cow)) {
            return new SpaceReader(s, Findings.refuse(cow)).read(Optional.empty());
        }
    }

    private void poke(long at, int xor) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(cow.toFile(), "rw")) {
            f.seek(at);
            int old = f.read();
            f.seek(at);
            f.write(old ^ xor);
        }
    }

    /** Appends a well-formed journal record (valid checksum) with the given mappings. */
    private void appendRecord(long[] chunks, long[] dataChunks) throws Exception {
        SpaceState s = state();
        try (FileCowStore store = FileCowStore.open(cow, false, null)) {
            store.write(JournalRecord.encode(s.superblock.uuid(), s.checkpointSeq, s.lastCommit + 1, chunks,
                    dataChunks, chunks.length), s.superblock.journalOffset() + s.journalUsed);
        }
    }

    private void assertFinds(String code) throws Exception {
        CheckReport report = check(base);
        assertTrue(report.findings().stream().anyMatch(f -> f.code().equals(code)), report.toString());
        byte[] bytes = Files.readAllBytes(cow);
        try (FileCowStore s = FileCowStore.open(cow, false, null); FileBaseImage b = FileBaseImage.open(base)) {
            FormatException e = assertThrows(FormatException.class, () -> new NativeFormat().open(s, b));
            assertTrue(e.getMessage().startsWith(cow + ": ") && e.getMessage().contains(code), e.getMessage());
        }
        assertArrayEquals(bytes, Files.readAllBytes(cow));
    }

    @Test
    void aCleanSpaceHasNoFindings() throws Exception {
        CheckReport report = check(base);
        assertEquals(List.of(), report.findings());
        assertEquals(320, state().mappings);
    }

    @Test
    void aFlippedJournalChecksumIsFoundWhenLaterCommitsVerify() throws Exception {
        SpaceState s = state();
        poke(s.superblock.journalOffset() + 4, 0x01); // the first of two records
        assertFinds("bad-checksum");
    }

    @Test
    void aFlippedTablePageChecksumIsFound() throws Exception {
        SpaceState s = state();
        int copy = s.copyOneCurrent.get(0) ? 1 : 0;
        poke(s.superblock.pageOffset(0, copy), 0x80);
        assertFinds("bad-checksum");
    }

    @Test
    void aCurrentPageReadAsStaleIsFound() throws Exception {
        SpaceState s = state();
        int copy = s.copyOneCurrent.get(0) ? 1 : 0;
        // A damaged sequence number claiming a future checkpoint: the copy is passed over as torn.
        poke(s.superblock.pageOffset(0, copy) + 15, 0x40);
        assertFinds("table-mismatch");
    }

    @Test
    void twoChunksInOnePlaceAreFound() throws Exception {
        long used = state().table[5] - 1L;
        appendRecord(new long[] {2500}, new long[] {used});
        assertFinds("double-mapping");
    }

    @Test
    void aChunkMappedTwiceIsFound() throws Exception {
        appendRecord(new long[] {5}, new long[] {2900});
        assertFinds("chunk-mapped-twice");
    }

    @Test
    void aMappingOutsideTheDataAreaIsFound() throws Exception {
        appendRecord(new long[] {2500}, new long[] {state().superblock.dataChunks()});
        assertFinds("out-of-range");
    }

    @Test
    void aWrongBaseIsFound() throws Exception {
        Path other = TestSpaces.base(dir, "other", BASE_SIZE, 2);
        CheckReport report = check(other);
        assertEquals(List.of("wrong-base"), report.findings().stream().map(CheckReport.Finding::code).toList());
    }
}
