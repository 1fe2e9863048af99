/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.OptionalLong;
import org.dmcow.format.qcow2.Qemu;
import org.dmcow.host.ImageLock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The targets {@code format} refuses, by both formats: each refusal names both paths and the
 * reason, and leaves every file as it was.
 */
class FormatTargetTest {
    @TempDir
    Path dir;
    Path base;

    @BeforeEach
    void golden() throws IOException {
        base = dir.resolve("golden.img");
        byte[] data = new byte[4 << 20];
        for (int i = 0; i < data.length; i += 4096) {
            data[i] = (byte) (i >>> 12 | 1);
        }
        Files.write(base, data);
    }

    @Test
    void theBaseIsNeverFormattedHoweverItIsNamedEvenWithForce() throws Exception {
        Files.createDirectory(dir.resolve("sub"));
        Path symlink = Files.createSymbolicLink(dir.resolve("link.img"), base);
        Path hardlink = Files.createLink(dir.resolve("hard.img"), base);
        Path dotdot = dir.resolve("sub/../golden.img");
        for (Path target : new Path[] {base, symlink, hardlink, dotdot}) {
            for (String format : new String[] {"native", "qcow2"}) {
                refused(format, target, base, true, target + ": is the base " + base + " (the same file); a base is "
                        + "never formatted, not even with --force");
            }
        }
    }

    @Test
    void aLoopDeviceOverTheBaseIsTheBase() throws Exception {
        Path loop = attachLoop(base);
        try {
            refused("native", loop, base, true, loop + ": is the base " + base + " (" + loop
                    + " is a loop device backed by " + base + ")");
            // and the other way round: the base named by its loop device, the target by the file
            refused("native", base, loop, true, base + ": is the base " + loop + " (" + loop
                    + " is a loop device backed by " + base + ")");
            refused("native", loop, loop, true, loop + ": is the base " + loop + " (the same block device)");
        } finally {
            run("losetup", "-d", loop.toString());
        }
    }

    @Test
    void aSpaceAnotherHolderHasLockedIsNotFormattedEvenWithForce() throws Exception {
        Path cow = dir.resolve("vm1.cow");
        create("native", cow, base, false);
        try (ImageLock served = ImageLock.take(cow, ImageLock.Use.WRITE)) {
            refused("native", cow, base, true, cow + ": in use: failed to get \"write\" lock (held by this process)");
            refused("qcow2", cow, base, true, cow + ": in use: failed to get \"write\" lock");
        }
        Path overlay = dir.resolve("vm2.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw", overlay.toString())
                .ok();
        Process qemu = Qemu.holding(overlay);
        try {
            refused("qcow2", overlay, base, true, overlay + ": in use: failed to get \"write\" lock (held by pid "
                    + qemu.pid() + " qemu-io)");
        } finally {
            qemu.destroy();
            qemu.waitFor();
        }
    }

    @Test
    void aFileOfZerosIsNotDataAndNeedsNoForce() throws Exception {
        Path truncated = dir.resolve("truncated.cow");
        run("truncate", "-s", "64M", truncated.toString());
        create("native", truncated, base, false);
        Path allocated = dir.resolve("allocated.qcow2");
        run("fallocate", "-l", "8M", allocated.toString());
        create("qcow2", allocated, base, false);
        Path written = dir.resolve("written.cow");
        Files.write(written, new byte[3 << 20]); // zeros written out, not holes
        create("native", written, base, false);
        for (Path p : new Path[] {truncated, allocated, written}) {
            assertTrue(formattedClean(p), p + " was formatted");
        }
    }

    @Test
    void dataAndKnownContentNeedForceAndAreNamed() throws Exception {
        Path data = dir.resolve("data.img");
        byte[] bytes = new byte[2 << 20];
        bytes[1_500_000] = 7;
        Files.write(data, bytes);
        refused("native", data, base, false, data + ": already holds data (a non-zero byte at offset 1500000); use "
                + "--force to overwrite it");
        Path sparse = dir.resolve("sparse.img");
        run("truncate", "-s", "256M", sparse.toString());
        try (FileChannel ch = FileChannel.open(sparse, StandardOpenOption.WRITE)) {
            byte[] block = new byte[4096];
            Arrays.fill(block, (byte) 0x5a); // not random: a random block's first byte is zero one time in 256
            ch.write(ByteBuffer.wrap(block), 204_800_000L);
        }
        refused("qcow2", sparse, base, false, sparse + ": already holds data (a non-zero byte at offset 204800000");

        Path ext4 = dir.resolve("fs.img");
        run("truncate", "-s", "16M", ext4.toString());
        run("mkfs.ext4", "-q", "-F", ext4.toString());
        refused("native", ext4, base, false, ext4 + ": already holds an ext2/ext3/ext4 file system; use --force");
        Path qcow2 = dir.resolve("other.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", qcow2.toString(), "16M").ok();
        refused("native", qcow2, base, false, qcow2 + ": already holds a qcow2 CoW space; use --force");
        Path space = dir.resolve("space.cow");
        create("native", space, base, false);
        refused("qcow2", space, base, false, space + ": already holds a native CoW space; use --force");
        create("qcow2", space, base, true);
        assertEquals(0, Qemu.run("qemu-img", "check", space.toString()).exit());
    }

    /** Asserts the refusal and that neither file changed. */
    private void refused(String format, Path target, Path baseName, boolean force, String message) throws Exception {
        String before = digest(target) + digest(base);
        FormatException e;
        try (FileBaseImage b = FileBaseImage.open(baseName)) {
            e = assertThrows(FormatException.class, () -> CowFormats.byName(format).create(
                    new CowFormat.CreateRequest(target, b, 65536, OptionalLong.empty(), force)));
        }
        assertTrue(e.getMessage().startsWith(message), format + ": " + e.getMessage());
        assertEquals(before, digest(target) + digest(base), target + " or the base changed");
    }

    private static void create(String format, Path target, Path baseName, boolean force) throws Exception {
        try (FileBaseImage b = FileBaseImage.open(baseName)) {
            CowFormats.byName(format).create(new CowFormat.CreateRequest(target, b, 65536, OptionalLong.empty(),
                    force));
        }
    }

    private static String digest(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(Files.readAllBytes(p));
        return HexFormat.of().formatHex(md.digest());
    }

    private static Path attachLoop(Path file) throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/loop-control")), "no loop devices on this host");
        Qemu.Result r = Qemu.run("losetup", "-f", "--show", "-r", file.toString());
        assumeTrue(r.exit() == 0, "cannot attach a loop device: " + r.err());
        return Path.of(r.out().trim());
    }

    private static void run(String... command) throws Exception {
        Qemu.run(command).ok();
    }

    /** Whether a format recognises the space and its own checker calls it clean. */
    private static boolean formattedClean(Path space) throws IOException, FormatException {
        try (FileCowStore store = FileCowStore.openReadOnly(space)) {
            for (CowFormat f : CowFormats.all()) {
                if (f.recognises(store)) {
                    return f.check(store, Optional.empty()).clean();
                }
            }
        }
        return false;
    }
}
