/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.Runs;
import org.dmcow.format.SpaceFullException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeFormatTest {
    private static final long CHUNK = 65536;
    private static final long BASE_SIZE = 64 * CHUNK + 12345; // last chunk partial

    @TempDir
    Path dir;
    private Path base;
    private Path cow;

    @BeforeEach
    void formatSpace() throws Exception {
        base = TestSpaces.base(dir, "base", BASE_SIZE, 1);
        cow = dir.resolve("cow");
        TestSpaces.format(base, cow, CHUNK, 8192);
    }

    private CowSpace open() throws Exception {
        return TestSpaces.open(base, cow);
    }

    @Test
    void mappingsSurviveReopenAcrossJournalAndCheckpoints() throws Exception {
        long[] expected;
        try (CowSpace space = open()) {
            assertEquals(65, space.volumeChunks());
            assertEquals(new CowSpace.SpaceUsage(0, 65, 0), space.usage());
            for (int v = 0; v < 65; v += 2) { // 33 commits: more than an 8 KiB journal holds
                space.commit(List.of(new CowSpace.Mapping(v, space.place(v).place())));
            }
            expected = TestSpaces.mappings(space);
            assertEquals(new CowSpace.SpaceUsage(33, 32, 33), space.usage());
        }
        try (CowSpace space = open()) {
            assertArrayEquals(expected, TestSpaces.mappings(space));
            assertEquals(new CowSpace.SpaceUsage(33, 32, 33), space.usage());
        }
    }

    /** Opening reads the journal in growing pieces as far as its records go: records past the first piece count. */
    @Test
    void aJournalLongerThanTheFirstReadIsReplayedWhole() throws Exception {
        Path bigBase = TestSpaces.base(dir, "big", 400 * 4096L, 2);
        Path space = dir.resolve("big.cow");
        TestSpaces.format(bigBase, space, 4096, 1 << 20);
        long[] expected;
        try (FileBaseImage b = FileBaseImage.open(bigBase);
                CowSpace s = new NativeFormat().open(FileCowStore.open(space, false, null), b)) {
            for (int v = 0; v < 400; v++) { // 400 records of 512 bytes: 200 KiB of journal
                s.commit(List.of(new CowSpace.Mapping(v, s.place(v).place())));
            }
            expected = TestSpaces.mappings(s);
        }
        try (FileBaseImage b = FileBaseImage.open(bigBase);
                CowSpace s = new NativeFormat().open(FileCowStore.open(space, false, null), b)) {
            assertArrayEquals(expected, TestSpaces.mappings(s));
            assertEquals(400, s.usage().mappings());
        }
    }

    /** The daemon asks every volume's chunk size at start-up: that reads the superblock, not the whole space. */
    @Test
    void chunkSizeReadsTheSuperblockAlone() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(cow.toFile(), "rw")) {
            f.seek(Superblock.CHECKPOINT_OFFSET);
            f.write(new byte[2 * CheckpointHeader.SLOT_SIZE]); // no checkpoint: the space cannot be read
        }
        try (FileCowStore store = FileCowStore.openReadOnly(cow)) {
            assertThrows(FormatException.class, () -> new NativeFormat().info(store));
            assertEquals(CHUNK, new NativeFormat().chunkSize(store));
        }
        Path other = Files.write(dir.resolve("other"), new byte[8192]);
        try (FileCowStore store = FileCowStore.openReadOnly(other)) {
            FormatException e = assertThrows(FormatException.class, () -> new NativeFormat().chunkSize(store));
            assertTrue(e.getMessage().contains(other.toString()) && e.getMessage().contains("not-native"),
                    e.getMessage());
        }
    }

    @Test
    void neighboursAreContiguousAndTheFullVolumeNeedsOneSegment() throws Exception {
        try (CowSpace space = open()) {
            for (int v = 64; v >= 0; v--) { // backwards
                space.commit(List.of(new CowSpace.Mapping(v, space.place(v).place())));
            }
            assertEquals(1, Runs.count(space));
        }
    }

    @Test
    void aFullSpaceSaysSoAndReleaseGivesThePlaceBack() throws Exception {
        Path small = dir.resolve("small");
        long size;
        try (FileBaseImage b = FileBaseImage.open(base)) {
            Superblock probe = Superblock.layout(new byte[16], CHUNK, BASE_SIZE, 0, 8192, Long.MAX_VALUE);
            size = probe.dataOffset() + 10 * CHUNK;
            new NativeFormat(8192).create(new CowFormat.CreateRequest(small, b, CHUNK, OptionalLong.of(size), false));
        }
        try (FileBaseImage b = FileBaseImage.open(base);
                CowSpace space = new NativeFormat().open(FileCowStore.open(small, false, null), b)) {
            for (int v = 0; v < 10; v++) {
                space.place(v * 6);
            }
            SpaceFullException e = assertThrows(SpaceFullException.class, () -> space.place(61));
            assertTrue(e.getMessage().startsWith(small + ": CoW space full"), e.getMessage());
            space.release(30);
            assertEquals(new CowSpace.SpaceUsage(9, 1, 0), space.usage());
            space.place(61);
        }
    }

    @Test
    void adoptRecordsKernelPlacesAndRefusesBadOnes() throws Exception {
        try (CowSpace space = open()) {
            long place = space.place(3).place();
            space.commit(List.of(new CowSpace.Mapping(3, place)));
            long dataStart = place - 3 * CHUNK; // an empty space places chunk v at data chunk v
            FormatException inUse = assertThrows(FormatException.class, () -> space.adopt(9, place));
            assertTrue(inUse.getMessage().contains("another chunk uses it"), inUse.getMessage());
            assertThrows(FormatException.class, () -> space.adopt(9, place + 1)); // not chunk-aligned
            assertThrows(FormatException.class, () -> space.adopt(9, 0)); // metadata, not data
            space.adopt(3, place); // what is committed already is accepted as is
            long target = dataStart + 40 * CHUNK;
            space.adopt(9, target);
            assertEquals(new CowSpace.SpaceUsage(2, 63, 1), space.usage());
            assertTrue(space.place(10).place() != target, "an adopted place was handed out again");
            space.release(10);
            space.commit(List.of(new CowSpace.Mapping(9, target)));
            assertEquals(target, space.committedPlace(9));
            assertEquals(new CowSpace.SpaceUsage(2, 63, 2), space.usage());
        }
    }

    @Test
    void commitRefusesAPlaceThatWasNotReserved() throws Exception {
        try (CowSpace space = open()) {
            long place = space.place(1).place();
            assertThrows(FormatException.class, () -> space.commit(List.of(new CowSpace.Mapping(2, place))));
            assertThrows(FormatException.class, () -> space.commit(List.of(new CowSpace.Mapping(1, place + CHUNK))));
        }
    }

    @Test
    void aGrownFileIsUsedAfterReopen() throws Exception {
        long before;
        try (CowSpace space = open()) {
            before = space.usage().freeChunks();
        }
        try (RandomAccessFile f = new RandomAccessFile(cow.toFile(), "rw")) {
            f.setLength(f.length() + 10 * CHUNK);
        }
        try (CowSpace space = open()) {
            assertEquals(before + 10, space.usage().freeChunks());
        }
        try (CowSpace space = open()) { // recorded: stays the same
            assertEquals(before + 10, space.usage().freeChunks());
        }
    }

    @Test
    void aWrongBaseIsRefusedWithoutWriting() throws Exception {
        Path other = TestSpaces.base(dir, "other", BASE_SIZE, 2);
        byte[] bytes = Files.readAllBytes(cow);
        try (FileBaseImage b = FileBaseImage.open(other); FileCowStore s = FileCowStore.open(cow, false, null)) {
            FormatException e = assertThrows(FormatException.class, () -> new NativeFormat().open(s, b));
            assertTrue(e.getMessage().startsWith(cow.toString()) && e.getMessage().contains("wrong-base"),
                    e.getMessage());
        }
        assertArrayEquals(bytes, Files.readAllBytes(cow));
    }

    @Test
    void corruptSuperblocksUnknownVersionsAndFeaturesAreRefused() throws Exception {
        assertRefused(8, "unknown-version", 2, ByteOrder.LITTLE_ENDIAN);
        assertRefused(16, "unknown-feature", 1L << 40, ByteOrder.LITTLE_ENDIAN);
        assertRefused(60, "bad-checksum", 99, ByteOrder.LITTLE_ENDIAN);
    }

    /** Overwrites a field in both superblock copies (so neither is usable) and expects refusal by code. */
    private void assertRefused(int offset, String code, long value, ByteOrder order) throws Exception {
        Path damaged = dir.resolve("damaged-" + code);
        Files.copy(cow, damaged);
        try (RandomAccessFile f = new RandomAccessFile(damaged.toFile(), "rw")) {
            for (long slot : new long[] {0, Superblock.SLOT_SIZE}) {
                ByteBuffer b = ByteBuffer.allocate(8).order(order);
                if (offset == 8) {
                    b.putInt((int) value).putInt(0);
                    f.seek(slot + offset);
                    f.write(b.array(), 0, 4);
                } else {
                    b.putLong(value);
                    f.seek(slot + offset);
                    f.write(b.array());
                }
            }
        }
        byte[] bytes = Files.readAllBytes(damaged);
        try (FileBaseImage b = FileBaseImage.open(base); FileCowStore s = FileCowStore.open(damaged, false, null)) {
            FormatException e = assertThrows(FormatException.class, () -> new NativeFormat().open(s, b));
            assertTrue(e.getMessage().startsWith(damaged.toString()) && e.getMessage().contains(code), e.getMessage());
        }
        assertArrayEquals(bytes, Files.readAllBytes(damaged));
    }

    @Test
    void oneDamagedSuperblockCopyIsSurvivedAndReportedByCheck() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(cow.toFile(), "rw")) {
            f.seek(100); // a zero byte of the journal size in copy 0
            f.write(0x5a);
        }
        try (CowSpace space = open()) {
            assertEquals(65, space.usage().freeChunks());
        }
        try (FileCowStore s = FileCowStore.openReadOnly(cow)) {
            assertEquals(List.of(new org.dmcow.format.CheckReport.Finding("bad-checksum",
                    "superblock copy 0: superblock checksum mismatch")),
                    new NativeFormat().check(s, java.util.Optional.empty()).findings());
        }
    }

    @Test
    void createRefusesToOverwriteTooSmallAndBadChunkSizes() throws Exception {
        byte[] bytes = Files.readAllBytes(cow);
        try (FileBaseImage b = FileBaseImage.open(base)) {
            NativeFormat f = new NativeFormat();
            FormatException exists = assertThrows(FormatException.class,
                    () -> f.create(new CowFormat.CreateRequest(cow, b, CHUNK, OptionalLong.empty(), false)));
            assertTrue(exists.getMessage().contains("a native CoW space"), exists.getMessage());
            assertArrayEquals(bytes, Files.readAllBytes(cow));
            Path small = dir.resolve("small");
            FormatException tooSmall = assertThrows(FormatException.class,
                    () -> f.create(new CowFormat.CreateRequest(small, b, CHUNK, OptionalLong.of(1 << 20), false)));
            assertTrue(tooSmall.getMessage().startsWith(small + ": 1048576 bytes is too small"),
                    tooSmall.getMessage());
            assertFalse(Files.exists(small));
            assertThrows(FormatException.class,
                    () -> f.create(new CowFormat.CreateRequest(small, b, 3000, OptionalLong.empty(), false)));
            f.create(new CowFormat.CreateRequest(cow, b, CHUNK, OptionalLong.empty(), true));
        }
        try (CowSpace space = open()) {
            assertEquals(0, space.usage().mappings());
        }
    }
}
