/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.dmcow.format.qcow2.Qemu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The locks against the real qemu-io and qemu-img: each sees the other as QEMU sees QEMU. */
class ImageLockTest {
    @TempDir
    Path dir;
    Path base;
    Path overlay;

    @BeforeEach
    void images() throws Exception {
        base = dir.resolve("base.img");
        Files.write(base, new byte[1 << 20]);
        overlay = dir.resolve("vm1.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw", overlay.toString())
                .ok();
    }

    @Test
    void aServedSpaceKeepsQemuWritersOutButLetsForceShareReadersIn() throws Exception {
        try (ImageLock lock = ImageLock.take(overlay, ImageLock.Use.WRITE)) {
            assertNull(lock.unsupported());
            Qemu.Result write = Qemu.run("qemu-io", "-c", "write 0 4k", overlay.toString());
            assertNotEquals(0, write.exit());
            assertTrue(write.err().contains("Failed to get \"write\" lock"), write.err());
            Qemu.Result info = Qemu.run("qemu-img", "info", overlay.toString());
            assertNotEquals(0, info.exit(), "qemu-img info without -U must see the writer");
            assertTrue(info.err().contains("Failed to get shared \"write\" lock"), info.err());
            Qemu.run("qemu-img", "info", "-U", overlay.toString()).ok();
        }
        Qemu.run("qemu-io", "-c", "write 0 4k", overlay.toString()).ok();
        Qemu.run("qemu-img", "info", overlay.toString()).ok();
    }

    @Test
    void aServedBaseIsReadByAllAndWrittenByNone() throws Exception {
        try (ImageLock first = ImageLock.take(base, ImageLock.Use.READ);
                ImageLock second = ImageLock.take(base, ImageLock.Use.READ)) {
            Qemu.run("qemu-io", "-r", "-f", "raw", "-c", "read 0 4k", base.toString()).ok();
            Qemu.Result write = Qemu.run("qemu-io", "-f", "raw", "-c", "write 0 4k", base.toString());
            assertNotEquals(0, write.exit());
            assertTrue(write.err().contains("Failed to get \"write\" lock"), write.err());
            // QEMU running a guest over an overlay of this base reads it as a backing file: allowed
            Qemu.run("qemu-io", "-c", "read 0 4k", overlay.toString()).ok();
            ImageLock.ImageLockedException e = assertThrows(ImageLock.ImageLockedException.class,
                    () -> ImageLock.take(base, ImageLock.Use.WRITE));
            assertTrue(e.getMessage().startsWith(base + ": in use: failed to get \"write\" lock"), e.getMessage());
            assertTrue(e.getMessage().contains("this process"), e.getMessage());
        }
        ImageLock.take(base, ImageLock.Use.WRITE).close();
    }

    @Test
    void aSecondWriterInThisProcessIsRefused() throws Exception {
        try (ImageLock lock = ImageLock.take(overlay, ImageLock.Use.WRITE)) {
            ImageLock.ImageLockedException e = assertThrows(ImageLock.ImageLockedException.class,
                    () -> ImageLock.take(overlay, ImageLock.Use.WRITE));
            assertTrue(e.getMessage().contains(overlay.toString()), e.getMessage());
            assertThrows(ImageLock.ImageLockedException.class, () -> ImageLock.take(overlay, ImageLock.Use.READ));
        }
    }

    @Test
    void anImageQemuHasOpenIsRefusedNamingTheProcess() throws Exception {
        Process qemu = Qemu.holding(overlay);
        try {
            ImageLock.ImageLockedException e = assertThrows(ImageLock.ImageLockedException.class,
                    () -> ImageLock.take(overlay, ImageLock.Use.WRITE));
            assertTrue(e.getMessage().contains("pid " + qemu.pid() + " qemu-io"), e.getMessage());
        } finally {
            qemu.destroy();
            qemu.waitFor();
        }
        ImageLock.take(overlay, ImageLock.Use.WRITE).close();
    }
}
