/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Overlays written by QEMU read through the format, and the other way round. */
class Qcow2InteropTest {
    private static final long K = 1024;
    private static final long M = 1024 * K;

    @TempDir
    Path dir;
    private Path basePath;
    private byte[] baseBytes;
    private final Qcow2Format format = new Qcow2Format();

    @BeforeEach
    void base() throws Exception {
        basePath = dir.resolve("base.raw");
        baseBytes = new byte[(int) (3 * M)];
        new Random(7).nextBytes(baseBytes);
        Files.write(basePath, baseBytes);
    }

    private static void fill(byte[] b, long off, long len, int value) {
        Arrays.fill(b, (int) off, (int) (off + len), (byte) value);
    }

    private List<CowSpace.Mapping> mappings(CowSpace space) {
        List<CowSpace.Mapping> list = new ArrayList<>();
        space.forEachMapping((c, p) -> list.add(new CowSpace.Mapping(c, p)));
        return list;
    }

    @Test
    void qemuWrittenOverlayIsServedAsItIs() throws Exception {
        Path ov = dir.resolve("ov.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", basePath.toString(), "-F", "raw", ov.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -P 0xab 100000 150000", "-c", "write -z 1M 128k",
                "-c", "write -P 0xcd 2M 64k", "-c", "write -z 2M 64k", ov.toString()).ok();
        byte[] expected = baseBytes.clone();
        fill(expected, 100000, 150000, 0xab);
        fill(expected, M, 128 * K, 0);
        fill(expected, 2 * M, 64 * K, 0);
        String map = Qemu.run("qemu-img", "map", "--output=json", ov.toString()).ok().out();
        long chunk = 64 * K;
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(ov, false, null);
                CowSpace space = format.open(store, base)) {
            assertEquals(chunk, space.chunkSize());
            List<CowSpace.Mapping> ours = mappings(space);
            assertEquals(Qemu.dataMappings(map, chunk), ours);
            assertEquals(List.of(1L, 2L, 3L), ours.stream().map(CowSpace.Mapping::volumeChunk).toList());
            for (CowSpace.Mapping m : ours) {
                ByteBuffer cluster = ByteBuffer.allocate((int) chunk);
                store.read(cluster, m.place());
                assertArrayEquals(Arrays.copyOfRange(expected, (int) (m.volumeChunk() * chunk),
                        (int) ((m.volumeChunk() + 1) * chunk)), cluster.array(), "chunk " + m.volumeChunk());
            }
            List<Long> zeros = new ArrayList<>();
            space.forEachZeroChunk(zeros::add);
            assertEquals(List.of(16L, 17L, 32L), zeros);
            assertEquals(-1, space.committedPlace(16));

            // the allocated zero cluster keeps its cluster; the plain one gets a new one; both zero-filled
            long zeroAllocOffset = Qemu.hostOffset(map, 2 * M);
            assertNotEquals(-1, zeroAllocOffset, map);
            try (DataPathDouble kernel = new DataPathDouble(space, base, ov, expected)) {
                byte[] data = new byte[5000];
                new Random(3).nextBytes(data);
                kernel.write(2 * M + 1000, data);
                kernel.write(M + 7000, data);
                kernel.commit();
            }
            assertEquals(zeroAllocOffset, space.committedPlace(32));
            assertNotEquals(-1, space.committedPlace(16));
            List<Long> after = new ArrayList<>();
            space.forEachZeroChunk(after::add);
            assertEquals(List.of(17L), after);
        }
        Qemu.Result check = Qemu.run("qemu-img", "check", ov.toString());
        assertEquals(0, check.exit(), check.out() + check.err());
        Path expectedRaw = dir.resolve("expected.raw");
        Files.write(expectedRaw, expected);
        Qemu.Result compare = Qemu.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2",
                expectedRaw.toString(), ov.toString());
        assertEquals(0, compare.exit(), compare.out() + compare.err());
    }

    @Test
    void zeroPlacementsSayZeroFill() throws Exception {
        Path ov = dir.resolve("ov.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", basePath.toString(),
                "-F", "raw", ov.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -z 8k 4k", ov.toString()).ok();
        try (FileCowStore store = FileCowStore.openReadOnly(ov)) {
            assertEquals(4096, format.chunkSize(store)); // from the header, as the daemon asks at start-up
        }
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(ov, false, null);
                CowSpace space = format.open(store, base)) {
            assertEquals(CowSpace.Fill.ZERO, space.place(2).fill());
            assertEquals(CowSpace.Fill.COPY, space.place(3).fill());
            space.release(2);
            space.release(3);
        }
        // released places are freed at close: nothing leaked
        Qemu.Result check = Qemu.run("qemu-img", "check", ov.toString());
        assertEquals(0, check.exit(), check.out() + check.err());
    }

    @Test
    void overlayWrittenThroughTheFormatReadsBackInQemu() throws Exception {
        Path ov = dir.resolve("ov.qcow2");
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(ov, base, 4096, OptionalLong.empty(), false));
            try (FileCowStore store = FileCowStore.open(ov, false, null);
                    CowSpace space = format.open(store, base);
                    DataPathDouble kernel = new DataPathDouble(space, base, ov, baseBytes.clone())) {
                byte[] data = new byte[200000];
                Arrays.fill(data, (byte) 0x5a);
                kernel.write(70000, data);
                kernel.commit();
            }
        }
        Qemu.Result read = Qemu.run("qemu-io", "-r", "-c", "read -P 0x5a 70000 200000", ov.toString());
        assertEquals(0, read.exit(), read.out() + read.err());
        assertFalse(read.out().contains("failed"), read.out());
        Qemu.Result wrong = Qemu.run("qemu-io", "-r", "-c", "read -P 0x5b 70000 200000", ov.toString());
        assertFalse(!wrong.out().contains("failed") && wrong.exit() == 0, "a wrong pattern is noticed");
        Qemu.Result info = Qemu.run("qemu-img", "info", ov.toString()).ok();
        assertEquals(true, info.out().contains("backing file format: raw"), info.out());

        // QEMU writes on top; the format then sees QEMU's clusters too
        Qemu.run("qemu-io", "-c", "write -P 0x11 1M 8k", ov.toString()).ok();
        String map = Qemu.run("qemu-img", "map", "--output=json", ov.toString()).ok().out();
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.openReadOnly(ov);
                CowSpace space = format.open(store, base)) {
            assertEquals(Qemu.dataMappings(map, 4096), mappings(space));
            assertNotEquals(-1, space.committedPlace(256));
        }
    }
}
