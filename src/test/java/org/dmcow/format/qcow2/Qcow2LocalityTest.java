/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;

import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.Runs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Placement keeps chunks adjacent in the volume adjacent in the file, whatever order they are
 * first written in, so a reloaded table needs few more mapped segments than there are runs of
 * written chunks; across a reopen, and next to clusters QEMU put in the file's holes.
 */
class Qcow2LocalityTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;
    private final Qcow2Format format = new Qcow2Format();
    private Path basePath;
    private Path cow;

    private void create(long volumeBytes, long chunk, long seed) throws Exception {
        basePath = dir.resolve("base.raw");
        byte[] bytes = new byte[(int) volumeBytes];
        new Random(seed).nextBytes(bytes);
        Files.write(basePath, bytes);
        cow = dir.resolve("cow.qcow2");
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, chunk, OptionalLong.empty(), false));
        }
    }

    /** Like the benchmark's first-write job: distinct random 4 KiB blocks, committed in batches. */
    @ParameterizedTest
    @CsvSource({"65536, 64, 512, 1", "65536, 64, 512, 2", "4096, 8, 1024, 3"})
    void randomFirstWritesNeedFewMoreSegmentsThanRuns(long chunk, long volumeMiB, int writes, long seed)
            throws Exception {
        create(volumeMiB * MIB, chunk, seed);
        Random rnd = new Random(seed);
        List<Long> blocks = new ArrayList<>();
        for (long b = 0; b < volumeMiB * MIB / 4096; b++) {
            blocks.add(b);
        }
        Collections.shuffle(blocks, rnd);
        byte[] expected;
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace space = format.open(store, base);
                    DataPathDouble kernel = new DataPathDouble(space, base, cow, DataPathDouble.baseContent(base))) {
                for (int i = 0; i < writes; i++) {
                    byte[] data = new byte[4096];
                    rnd.nextBytes(data);
                    kernel.write(blocks.get(i) * 4096, data);
                    if (i % 32 == 31) {
                        kernel.commit();
                    }
                }
                kernel.commit();
                expected = kernel.expected;
            }
            try (FileCowStore store = FileCowStore.openReadOnly(cow); CowSpace space = format.open(store, base)) {
                long segments = Runs.count(space);
                long fewest = fewestRuns(space);
                System.out.printf("chunk %d, %d MiB, seed %d: %d mappings, %d segments, %d runs: %.2fx%n", chunk,
                        volumeMiB, seed, space.usage().mappings(), segments, fewest, (double) segments / fewest);
                assertTrue(segments <= 1.2 * fewest, segments + " segments for " + fewest + " runs");
            }
        }
        assertClean(expected);
    }

    /** Runs of consecutive mapped chunks, wherever they are stored. */
    private static long fewestRuns(CowSpace space) {
        long[] last = {-2};
        long[] runs = {0};
        space.forEachMapping((c, p) -> {
            if (c != last[0] + 1) {
                runs[0]++;
            }
            last[0] = c;
        });
        return runs[0];
    }

    @Test
    void aReopenInTheMiddleOfAGroupPlacesBesideItsNeighbours() throws Exception {
        long chunk = 4096;
        create(MIB, chunk, 4);
        long granted;
        byte[] expected;
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            expected = DataPathDouble.baseContent(base);
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace space = format.open(store, base);
                    DataPathDouble kernel = new DataPathDouble(space, base, cow, expected)) {
                kernel.write(35 * chunk + 100, new byte[] {1, 2, 3});
                kernel.write(33 * chunk, new byte[] {4});
                kernel.commit();
                granted = space.place(37).place(); // still held by the kernel at the restart
                copyBaseChunk(base, 37, chunk, granted);
            }
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace space = format.open(store, base);
                    DataPathDouble kernel = new DataPathDouble(space, base, cow, expected)) {
                space.adopt(37, granted);
                kernel.write(34 * chunk + 7, new byte[] {5, 6});
                kernel.write(36 * chunk, new byte[] {7});
                kernel.write(38 * chunk + 4000, new byte[] {8});
                kernel.commit();
                space.commit(List.of(new CowSpace.Mapping(37, granted)));
                long first = space.committedPlace(33);
                for (long c = 34; c <= 38; c++) {
                    assertEquals(first + (c - 33) * chunk, space.committedPlace(c), "chunk " + c);
                }
                assertEquals(1, Runs.count(space));
            }
        }
        assertClean(expected);
    }

    private void copyBaseChunk(FileBaseImage base, long c, long chunk, long place) throws Exception {
        ByteBuffer b = ByteBuffer.allocate((int) chunk);
        base.read(b, c * chunk);
        b.flip();
        try (FileChannel f = FileChannel.open(cow, StandardOpenOption.WRITE)) {
            f.write(b, place);
            f.force(false);
        }
    }

    @Test
    void aSlotQemuFilledIsNotHandedOutAgain() throws Exception {
        long chunk = 4096;
        create(2 * MIB, chunk, 5);
        long first;
        byte[] expected;
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            expected = DataPathDouble.baseContent(base);
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace space = format.open(store, base);
                    DataPathDouble kernel = new DataPathDouble(space, base, cow, expected)) {
                kernel.write(32 * chunk, new byte[] {1});
                kernel.commit();
                first = space.committedPlace(32);
            }
        }
        // QEMU allocates single clusters from the file's first free one on: into the holes before
        // chunk 32's run and then into the run's own
        List<String> qemuIo = new ArrayList<>(List.of("qemu-io"));
        for (int i = 0; i < 16; i++) {
            long off = MIB + i * 2 * chunk;
            qemuIo.addAll(List.of("-c", "write -P 0x77 " + off + " " + chunk));
            Arrays.fill(expected, (int) off, (int) (off + chunk), (byte) 0x77);
        }
        qemuIo.add(cow.toString());
        Qemu.run(qemuIo.toArray(String[]::new)).ok();
        String map = Qemu.run("qemu-img", "map", "--output=json", cow.toString()).ok().out();
        boolean qemuInRun = Qemu.dataMappings(map, chunk).stream()
                .anyMatch(m -> m.volumeChunk() != 32 && m.place() == first + chunk);
        assertTrue(qemuInRun, "QEMU took the cluster beside chunk 32's: " + map);
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base);
                DataPathDouble kernel = new DataPathDouble(space, base, cow, expected)) {
            kernel.write(33 * chunk, new byte[] {2});
            kernel.write(34 * chunk, new byte[] {3});
            kernel.commit();
            assertNotEquals(first + chunk, space.committedPlace(33));
            assertEquals(space.committedPlace(33) + chunk, space.committedPlace(34));
        }
        assertClean(expected);
    }

    private void assertClean(byte[] expected) throws Exception {
        Qemu.Result check = Qemu.run("qemu-img", "check", cow.toString());
        assertEquals(0, check.exit(), check.out() + check.err());
        Path expectedRaw = dir.resolve("expected.raw");
        Files.write(expectedRaw, expected);
        Qemu.Result compare = Qemu.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", expectedRaw.toString(),
                cow.toString());
        assertEquals(0, compare.exit(), compare.out() + compare.err());
        try (FileBaseImage base = FileBaseImage.open(basePath); FileCowStore store = FileCowStore.openReadOnly(cow)) {
            assertTrue(format.check(store, Optional.of(base)).clean());
        }
    }
}
