/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.dmcow.config.SpacePolicy;
import org.dmcow.config.VolumeConfig;
import org.dmcow.dm.LoopDevices;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FormatException;
import org.dmcow.format.qcow2.Qemu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon opening a qcow2 overlay QEMU wrote: zero clusters become zeros before serving. */
class FormatSpaceOpenerTest {
    private static final int K = 1024;
    private static final int M = K * K;
    private static final long CHUNK = 64 * K;
    private static final Path COW_LOOP = Path.of("/dev/loop7");

    @TempDir
    Path dir;
    private Path basePath;
    private Path overlay;
    private byte[] expected;
    private final RecordingLoops loops = new RecordingLoops();

    /** Records which loop devices were told their file's size, and the overlay's size then. */
    private final class RecordingLoops implements LoopDevices {
        final List<Path> refreshed = new ArrayList<>();
        final List<Long> sizes = new ArrayList<>();

        @Override
        public Loop attach(Path file, boolean readOnly) {
            throw new UnsupportedOperationException("the opener attaches nothing");
        }

        @Override
        public void refreshCapacity(Path loop) {
            refreshed.add(loop);
            try {
                sizes.add(Files.size(overlay));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void detach(Path loop) {
            throw new UnsupportedOperationException("the opener detaches nothing");
        }
    }

    /** Base: 2 MiB of random data. Overlay: data in chunk 1, plain zero chunks 4 and 5, allocated zero chunk 16. */
    @BeforeEach
    void overlayWrittenByQemu() throws Exception {
        basePath = dir.resolve("base.raw");
        byte[] base = new byte[2 * M];
        new Random(11).nextBytes(base);
        Files.write(basePath, base);
        overlay = dir.resolve("vm.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", basePath.toString(), "-F", "raw",
                overlay.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -P 0xab 64k 64k", "-c", "write -z 256k 128k", "-c", "write -P 0xcd 1M 64k",
                "-c", "write -z 1M 64k", overlay.toString()).ok();
        expected = base.clone();
        Arrays.fill(expected, 64 * K, 128 * K, (byte) 0xab);
        Arrays.fill(expected, 256 * K, 384 * K, (byte) 0);
        Arrays.fill(expected, M, M + 64 * K, (byte) 0);
    }

    private SpaceOpener.OpenedSpace open(long chunkSize) throws Exception {
        return new FormatSpaceOpener(loops).open(new VolumeConfig("vm", basePath, overlay, "qcow2", chunkSize,
                SpacePolicy.DEFAULTS),
                COW_LOOP);
    }

    @Test
    void zeroClustersAreCommittedZeroFilledBeforeTheVolumeServes() throws Exception {
        try (SpaceOpener.OpenedSpace opened = open(CHUNK)) {
            CowSpace space = opened.space();
            List<Long> zeros = new ArrayList<>();
            space.forEachZeroChunk(zeros::add);
            assertEquals(List.of(), zeros);
            List<Long> mapped = new ArrayList<>();
            space.forEachMapping((chunk, place) -> {
                mapped.add(chunk);
                ByteBuffer cluster = ByteBuffer.allocate((int) CHUNK);
                try {
                    opened.store().read(cluster, place);
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
                assertArrayEquals(Arrays.copyOfRange(expected, (int) (chunk * CHUNK), (int) ((chunk + 1) * CHUNK)),
                        cluster.array(), "chunk " + chunk);
            });
            // served by mapped segments from the start: the kernel never reads these from the base
            assertEquals(List.of(1L, 4L, 5L, 16L), mapped);
            assertEquals(4, space.usage().mappings());
            assertTrue(loops.refreshed.contains(COW_LOOP));
            assertEquals(Files.size(overlay), loops.sizes.get(loops.sizes.size() - 1),
                    "the loop device was not told the file's last size");
            assertTrue(loops.sizes.get(0) < Files.size(overlay), "the file did not grow: nothing was shown");
        }
        Qemu.Result check = Qemu.run("qemu-img", "check", overlay.toString());
        assertEquals(0, check.exit(), check.out() + check.err());
        Path expectedRaw = dir.resolve("expected.raw");
        Files.write(expectedRaw, expected);
        Qemu.Result compare = Qemu.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", expectedRaw.toString(),
                overlay.toString());
        assertEquals(0, compare.exit(), compare.out() + compare.err());

        byte[] before = Files.readAllBytes(overlay);
        try (SpaceOpener.OpenedSpace again = open(CHUNK)) {
            assertEquals(4, again.space().usage().mappings());
        }
        assertArrayEquals(before, Files.readAllBytes(overlay), "a second open wrote to the image");
    }

    @Test
    void aChunkSizeOtherThanTheClusterSizeIsRefusedBeforeAnythingIsWritten() throws Exception {
        byte[] before = Files.readAllBytes(overlay);
        FormatException e = assertThrows(FormatException.class, () -> open(4 * K));
        assertTrue(e.getMessage().contains(overlay.toString()) && e.getMessage().contains("chunk size 65536")
                && e.getMessage().contains("chunk-size = 4096"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(overlay));
        // opening tells the loop device the file's size first (it may have grown while unserved)
        assertEquals(List.of(COW_LOOP), loops.refreshed);
    }

    @Test
    void aServedSpaceHoldsQemusImageLocksUntilItIsClosed() throws Exception {
        try (SpaceOpener.OpenedSpace served = open(CHUNK)) {
            Qemu.Result write = Qemu.run("qemu-io", "-c", "write 0 4k", overlay.toString());
            assertTrue(write.exit() != 0 && write.err().contains("Failed to get \"write\" lock"), write.err());
            Qemu.Result base = Qemu.run("qemu-io", "-f", "raw", "-c", "write 0 4k", basePath.toString());
            assertTrue(base.exit() != 0 && base.err().contains("Failed to get \"write\" lock"), base.err());
            Qemu.run("qemu-img", "info", "-U", overlay.toString()).ok();
            // a second volume on the same space
            FormatException second = assertThrows(FormatException.class, () -> open(CHUNK));
            assertTrue(second.getMessage().startsWith(overlay + ": in use: failed to get \"write\" lock"),
                    second.getMessage());
        }
        Qemu.run("qemu-io", "-c", "write 0 4k", overlay.toString()).ok();
    }

    @Test
    void aBaseSomeoneWritesIsNotServed() throws Exception {
        Process qemu = Qemu.holding(basePath, "-f", "raw");
        try {
            FormatException e = assertThrows(FormatException.class, () -> open(CHUNK));
            assertTrue(e.getMessage().startsWith(basePath + ": in use: failed to get shared \"write\" lock (held by pid "
                    + qemu.pid() + " qemu-io)"), e.getMessage());
        } finally {
            qemu.destroy();
            qemu.waitFor();
        }
        open(CHUNK).close();
    }
}
