/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.host.LibC;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unmaps in a qcow2 space, as QEMU's discard: the L2 entry cleared at commit (the chunk reads from
 * the backing file), the cluster kept counted, never handed out, until freed after a reload, then
 * a hole with refcount 0; qemu-img check and map agree at each step. And what a crash leaves
 * counted and unreferenced (unmapped, placed or granted ahead, never committed): freed by the next
 * daemon when it creates the device, exactly what qemu-img check calls leaked, and nothing
 * committed, reserved since the open, or described by metadata.
 */
class Qcow2UnmapTest {
    private static final int CHUNK = 65536;

    @TempDir
    Path dir;
    private Path basePath;
    private Path cow;
    private final Qcow2Format format = new Qcow2Format();

    @BeforeEach
    void create() throws Exception {
        basePath = dir.resolve("base.raw");
        byte[] baseBytes = new byte[64 * CHUNK];
        new Random(5).nextBytes(baseBytes);
        Files.write(basePath, baseBytes);
        cow = dir.resolve("cow.qcow2");
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, CHUNK, OptionalLong.empty(), false));
        }
    }

    private static byte[] data(long chunk) {
        byte[] d = new byte[CHUNK];
        Arrays.fill(d, (byte) (chunk + 1));
        return d;
    }

    private static void write(CowSpace space, FileCowStore store, long chunk) throws Exception {
        long place = space.place(chunk).place();
        store.write(ByteBuffer.wrap(data(chunk)), place);
        store.flush();
        space.commit(List.of(new CowSpace.Mapping(chunk, place)));
    }

    private String map() throws Exception {
        return Qemu.run("qemu-img", "map", "--output=json", "-f", "qcow2", cow.toString()).ok().out();
    }

    private int check() throws Exception {
        return Qemu.run("qemu-img", "check", "-f", "qcow2", cow.toString()).exit();
    }

    private long leakedByQemu() throws Exception {
        Qemu.Result r = Qemu.run("qemu-img", "check", "-f", "qcow2", cow.toString());
        assertEquals(3, r.exit(), "leaks expected: " + r.out());
        Matcher m = Pattern.compile("(\\d+) leaked clusters were found").matcher(r.out());
        assertTrue(m.find(), r.out());
        return Long.parseLong(m.group(1));
    }

    @Test
    void anUnmappedChunkReadsFromTheBackingFileAndItsClusterIsFreedOnlyWhenAsked() throws Exception {
        long old5;
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            assertTrue(space.unmaps());
            for (long c = 0; c < 8; c++) {
                write(space, store, c);
            }
            old5 = space.committedPlace(5);
            CowSpace.SpaceUsage before = space.usage();
            space.commit(List.of(new CowSpace.Mapping(5, CowSpace.UNMAPPED), new CowSpace.Mapping(6,
                    CowSpace.UNMAPPED)));
            assertEquals(-1, space.committedPlace(5));
            assertEquals(Set.of(old5, space.unmappedPlaces().get(1)), new HashSet<>(space.unmappedPlaces()));
            assertEquals(before.mappings() - 2, space.usage().mappings());
            assertEquals(before.usedChunks(), space.usage().usedChunks(), "counted until freed");
            // QEMU sees the chunk unallocated (read from the backing file) and the clusters leaked
            assertTrue(map().contains("\"start\": " + 5L * CHUNK + ", \"length\": " + 2L * CHUNK
                    + ", \"depth\": 1"), "chunks 5 and 6 are not the backing file's: " + map());
            assertEquals(3, check(), "unmapped, not yet freed: leaked clusters");
            // not handed out meanwhile
            Set<Long> placed = new HashSet<>();
            for (long c = 16; c < 40; c++) {
                placed.add(space.place(c).place());
            }
            assertFalse(placed.contains(old5));
            for (long c = 16; c < 40; c++) {
                space.release(c);
            }
            long allocated = allocatedBytes();
            space.freePlaces(space.unmappedPlaces());
            assertEquals(List.of(), space.unmappedPlaces());
            assertEquals(before.usedChunks() - 2, space.usage().usedChunks());
            assertTrue(allocatedBytes() <= allocated - 2L * CHUNK, "the clusters were not punched");
            // written again: its own slot in the group's run is free again
            write(space, store, 5);
            assertEquals(old5, space.committedPlace(5));
        }
        assertEquals(0, check());
        // chunk 5 is the file's again, chunk 6 (between 5 and 7) still the backing file's
        assertTrue(map().contains("\"start\": " + 6L * CHUNK + ", \"length\": " + CHUNK + ", \"depth\": 1"), map());
    }

    @Test
    void unmappedClustersNotFreedAreFreedByAShutdownAndLeakedByACrash() throws Exception {
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            FileCowStore store = FileCowStore.open(cow, false, null);
            CowSpace space = format.open(store, base);
            write(space, store, 1);
            write(space, store, 2);
            space.commit(List.of(new CowSpace.Mapping(1, CowSpace.UNMAPPED)));
            store.close(); // a crash: the unmap is durable, the cluster still counted
            assertEquals(3, check());
            try (FileCowStore store2 = FileCowStore.open(cow, false, null);
                    CowSpace again = format.open(store2, base)) {
                assertEquals(-1, again.committedPlace(1));
                assertNotEquals(-1, again.committedPlace(2));
                again.commit(List.of(new CowSpace.Mapping(2, CowSpace.UNMAPPED)));
            } // a clean close frees what it unmapped
        }
        assertEquals(3, check(), "the crash's cluster stays leaked");
        Qemu.run("qemu-img", "check", "-r", "leaks", "-f", "qcow2", cow.toString());
        assertEquals(0, check());
    }

    /** A daemon that committed 0..3, unmapped 2, and had 20..35 and 50 placed (granted) when the power went. */
    private void crashWithPlacesOutstanding() throws Exception {
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            FileCowStore store = FileCowStore.open(cow, false, null);
            CowSpace space = format.open(store, base);
            for (long c = 0; c < 4; c++) {
                write(space, store, c);
            }
            space.commit(List.of(new CowSpace.Mapping(2, CowSpace.UNMAPPED)));
            for (long c = 20; c < 36; c++) {
                space.place(c);
            }
            long p50 = space.place(50).place();
            store.write(ByteBuffer.wrap(data(50)), p50); // filled, never committed
            store.close(); // the power went: no close of the space
        }
    }

    @Test
    void theNextDaemonFreesExactlyWhatACrashLeakedAndKeepsItsOwnPlaces() throws Exception {
        crashWithPlacesOutstanding();
        long leaked = leakedByQemu();
        assertEquals(16 + 1 + 1, leaked, "20..35, 50 and the unmapped 2");
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            // placed by this daemon before the device was created: not a leak
            long p40 = space.place(40).place();
            long usedBefore = space.usage().usedChunks();
            assertEquals(leaked, space.reclaimLeaks());
            assertEquals(usedBefore - leaked, space.usage().usedChunks());
            assertEquals(0, space.reclaimLeaks(), "nothing more the second time");
            store.write(ByteBuffer.wrap(data(40)), p40);
            store.flush();
            space.commit(List.of(new CowSpace.Mapping(40, p40)));
            for (long c : new long[] {0, 1, 3, 40}) {
                ByteBuffer got = ByteBuffer.allocate(CHUNK);
                store.read(got, space.committedPlace(c));
                assertArrayEquals(data(c), got.array(), "chunk " + c);
            }
            // the freed places are handed out again
            for (long c = 20; c < 36; c++) {
                write(space, store, c);
            }
        }
        assertEquals(0, check());
    }

    @Test
    void leaksInAnImageWithBitmapsAreLeftAlone() throws Exception {
        crashWithPlacesOutstanding();
        long leaked = leakedByQemu();
        Qemu.run("qemu-img", "bitmap", "--add", cow.toString(), "b1").ok();
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            assertEquals(0, space.reclaimLeaks());
        }
        assertTrue(leakedByQemu() >= leaked, "the leaks stay for qemu-img check -r leaks");
    }

    private long allocatedBytes() {
        return LibC.posix().stat(cow.toString()).blocks() * 512;
    }
}
