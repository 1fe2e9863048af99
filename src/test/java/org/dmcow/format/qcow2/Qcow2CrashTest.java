/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash injection at every metadata write of a trace on a QEMU-made overlay whose file end sits
 * just before a refcount block boundary, so the trace also creates a refcount block and L2 tables.
 */
class Qcow2CrashTest {
    private static final int CHUNK = 4096;

    @TempDir
    Path dir;

    private record Outcome(byte[] expected, List<CowSpace.Mapping> durable, long writes) {
    }

    private Outcome runTrace(Path image, Path basePath, long survivingWrites) throws Exception {
        Qcow2Format format = new Qcow2Format();
        List<CowSpace.Mapping> durable = new ArrayList<>();
        Random rnd = new Random(11);
        try (FileBaseImage base = FileBaseImage.open(basePath);
                CrashingStore store = new CrashingStore(FileCowStore.open(image, false, null), survivingWrites);
                CowSpace space = format.open(store, base);
                DataPathDouble kernel = new DataPathDouble(space, base, image, DataPathDouble.baseContent(base))) {
            for (int op = 0; op < 24; op++) {
                // mostly past QEMU's data, so new clusters, new L2 tables and a new refcount block
                long off = 8 * 1024 * 1024 + rnd.nextInt(3 * 1024 * 1024);
                byte[] data = new byte[1 + rnd.nextInt(3 * CHUNK)];
                rnd.nextBytes(data);
                kernel.write(off, data);
                if (op == 10) {
                    space.place(3050); // reserved then returned: must not leak or be lost
                    space.release(3050);
                }
                if (op % 4 == 3) {
                    List<CowSpace.Mapping> batch = kernel.commit();
                    if (!store.crashed()) {
                        durable.addAll(batch);
                    }
                }
            }
            // after a crash, close's clean-up writes are dropped too
            return new Outcome(kernel.expected, durable, store.writes());
        }
    }

    @Test
    void everyCrashPointLeavesAtMostLeaks() throws Exception {
        Path basePath = dir.resolve("base.raw");
        byte[] baseBytes = new byte[12 * 1024 * 1024];
        new Random(5).nextBytes(baseBytes);
        Files.write(basePath, baseBytes);
        Path pristine = dir.resolve("pristine.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", basePath.toString(),
                "-F", "raw", pristine.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -P 0x33 0 8060k", pristine.toString()).ok();
        byte[] qemuWritten = baseBytes.clone();
        Arrays.fill(qemuWritten, 0, 8060 * 1024, (byte) 0x33);

        Path image = dir.resolve("image.qcow2");
        Files.copy(pristine, image, StandardCopyOption.REPLACE_EXISTING);
        Outcome full = runTrace(image, basePath, Long.MAX_VALUE);
        assertEquals(0, Qemu.run("qemu-img", "check", image.toString()).exit(), "the uncrashed run is clean");
        assertTrue(fileClusters(image) > 2048, "the trace crossed the first refcount block");
        assertTrue(full.writes() > 20, "writes: " + full.writes());
        System.out.println("crash points: " + full.writes());

        for (long k = 0; k < full.writes(); k++) {
            Files.copy(pristine, image, StandardCopyOption.REPLACE_EXISTING);
            Outcome crashed = runTrace(image, basePath, k);
            Qemu.Result check = Qemu.run("qemu-img", "check", image.toString());
            assertTrue(check.exit() == 0 || check.exit() == 3,
                    "crash after write " + k + ": qemu-img check exit " + check.exit() + "\n" + check.out() + check.err());
            byte[] expected = crashed.expected();
            System.arraycopy(qemuWritten, 0, expected, 0, 8060 * 1024);
            try (FileBaseImage base = FileBaseImage.open(basePath);
                    FileCowStore store = FileCowStore.openReadOnly(image);
                    CowSpace space = new Qcow2Format().open(store, base)) {
                for (CowSpace.Mapping m : crashed.durable()) {
                    assertEquals(m.place(), space.committedPlace(m.volumeChunk()),
                            "crash after write " + k + ": committed chunk " + m.volumeChunk() + " lost");
                }
                final long crashPoint = k;
                space.forEachMapping((c, p) -> {
                    if (c * CHUNK >= 8060 * 1024) {
                        ByteBuffer cluster = ByteBuffer.allocate(CHUNK);
                        try {
                            store.read(cluster, p);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                        assertArrayEquals(Arrays.copyOfRange(expected, (int) (c * CHUNK), (int) ((c + 1) * CHUNK)),
                                cluster.array(), "crash after write " + crashPoint + ": chunk " + c + " holds wrong data");
                    }
                });
            }
        }
    }

    private static long fileClusters(Path image) throws java.io.IOException {
        return Files.size(image) / CHUNK;
    }
}
