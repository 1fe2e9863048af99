/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.host.LibC;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unmaps (discarded chunks): durable in the journal and across checkpoints, their places kept in
 * use until freed, never handed out twice, read back by open, the offline view and check alike,
 * and marked in the superblock so an older build refuses the space.
 */
class NativeUnmapTest {
    private static final long CHUNK = 65536;
    private static final long BASE_SIZE = 64 * CHUNK;

    @TempDir
    Path dir;
    private Path base;
    private Path cow;

    @BeforeEach
    void formatSpace() throws Exception {
        base = TestSpaces.base(dir, "base", BASE_SIZE, 1);
        cow = dir.resolve("cow");
        TestSpaces.format(base, cow, CHUNK, 8192); // 8 KiB: a checkpoint every few commits
    }

    private CowSpace open() throws Exception {
        return TestSpaces.open(base, cow);
    }

    private static long map(CowSpace space, long chunk) throws Exception {
        return space.place(chunk).place();
    }

    private static void unmap(CowSpace space, long... chunks) throws Exception {
        List<CowSpace.Mapping> group = new java.util.ArrayList<>();
        for (long c : chunks) {
            group.add(new CowSpace.Mapping(c, CowSpace.UNMAPPED));
        }
        space.commit(group);
    }

    private long incompatFeatures() throws Exception {
        try (FileCowStore s = FileCowStore.openReadOnly(cow)) {
            return new SpaceReader(s, Findings.refuse(cow)).superblockOnly().incompatFeatures();
        }
    }

    @Test
    void anUnmapIsDurableAndItsPlaceIsReusedOnlyOnceFreed() throws Exception {
        long place3;
        try (CowSpace space = open()) {
            assertTrue(space.unmaps());
            for (long c = 0; c < 4; c++) {
                space.commit(List.of(new CowSpace.Mapping(c, map(space, c))));
            }
            place3 = space.committedPlace(3);
            assertEquals(0, incompatFeatures(), "the feature bit is set only with the first unmap");
            unmap(space, 3);
            assertEquals(Superblock.INCOMPAT_UNMAP, incompatFeatures());
            assertEquals(-1, space.committedPlace(3));
            assertEquals(List.of(place3), space.unmappedPlaces());
            assertEquals(new CowSpace.SpaceUsage(4, 60, 3), space.usage(), "the place stays in use");
            // every other place is taken; the unmapped one is not handed out
            Set<Long> placed = new HashSet<>();
            for (long c = 4; c < 64; c++) {
                placed.add(space.place(c).place());
            }
            assertEquals(60, placed.size());
            assertFalse(placed.contains(place3));
            for (long c = 4; c < 64; c++) {
                space.release(c);
            }
            unmap(space, 3); // repeated: nothing to do
            assertEquals(List.of(place3), space.unmappedPlaces());
        }
        try (CowSpace space = open()) {
            // the journal's unmap is replayed and its place kept until a table without it is live
            assertEquals(-1, space.committedPlace(3));
            assertEquals(List.of(place3), space.unmappedPlaces());
            assertEquals(new CowSpace.SpaceUsage(4, 60, 3), space.usage());
            space.freePlaces(List.of(place3, 12345L)); // the unknown one is ignored
            assertEquals(List.of(), space.unmappedPlaces());
            assertEquals(new CowSpace.SpaceUsage(3, 61, 3), space.usage());
            long again = space.place(3).place();
            space.commit(List.of(new CowSpace.Mapping(3, again)));
        }
        try (CowSpace space = open()) {
            assertNotEquals(-1, space.committedPlace(3));
            assertEquals(List.of(), space.unmappedPlaces());
        }
        assertEquals(List.of(), check().findings());
    }

    @Test
    void aPlaceFreedAndMappedAgainInTheSameEpochIsNoDoubleMapping() throws Exception {
        long[] expected;
        try (CowSpace space = open()) {
            space.commit(List.of(new CowSpace.Mapping(1, map(space, 1))));
            long old = space.committedPlace(1);
            unmap(space, 1);
            space.freePlaces(List.of(old));
            // written again: the chunk's home place is the one it had, mapped again in the same epoch
            assertEquals(old, map(space, 1));
            space.commit(List.of(new CowSpace.Mapping(1, old)));
            expected = TestSpaces.mappings(space);
        }
        assertEquals(List.of(), check().findings());
        try (CowSpace space = open()) {
            assertArrayEquals(expected, TestSpaces.mappings(space));
            assertEquals(List.of(), space.unmappedPlaces());
        }
    }

    @Test
    void unmapsSurviveCheckpointsAndTheViewAgreesWithOpen() throws Exception {
        long[] expected;
        try (CowSpace space = open()) {
            for (long c = 0; c < 40; c++) { // fills the journal several times: checkpoints
                space.commit(List.of(new CowSpace.Mapping(c, map(space, c))));
                if (c % 3 == 2) {
                    unmap(space, c - 1);
                }
            }
            expected = TestSpaces.mappings(space);
        }
        for (long c = 1; c < 40; c += 3) {
            assertEquals(-1, expected[(int) c], "chunk " + c);
        }
        try (CowSpace space = open()) {
            assertArrayEquals(expected, TestSpaces.mappings(space));
            assertEquals(27, space.usage().mappings());
        }
        try (FileCowStore s = FileCowStore.openReadOnly(cow); FileBaseImage b = FileBaseImage.open(base)) {
            CowSpace view = new NativeFormat().view(s, b);
            assertArrayEquals(expected, TestSpaces.mappings(view));
            assertEquals(new CowSpace.SpaceUsage(27, 64 - 27, 27), view.usage(), "unmapped places count as free");
            for (long c = 0; c < 40; c++) {
                assertEquals(expected[(int) c], view.committedPlace(c), "chunk " + c);
            }
        }
        assertEquals(List.of(), check().findings());
    }

    @Test
    void freeingPunchesAHoleInTheFile() throws Exception {
        long place;
        try (CowSpace space = open()) {
            space.commit(List.of(new CowSpace.Mapping(5, map(space, 5))));
            place = space.committedPlace(5);
            try (FileCowStore s = FileCowStore.open(cow, false, null)) {
                s.write(ByteBuffer.wrap(new byte[(int) CHUNK]).put(0, (byte) 7), place);
                s.flush();
            }
            long before = allocatedBytes();
            unmap(space, 5);
            space.freePlaces(List.of(place));
            assertTrue(allocatedBytes() <= before - CHUNK, "allocated " + before + " then " + allocatedBytes());
        }
    }

    private long allocatedBytes() {
        return LibC.posix().stat(cow.toString()).blocks() * 512;
    }

    private CheckReport check() throws Exception {
        try (FileCowStore s = FileCowStore.openReadOnly(cow); FileBaseImage b = FileBaseImage.open(base)) {
            return new NativeFormat().check(s, Optional.of(b));
        }
    }
}
