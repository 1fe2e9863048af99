/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import org.dmcow.cli.Ctl;
import org.dmcow.format.qcow2.Qemu;
import org.dmcow.host.FileHoles;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl flatten} makes the guest's disk as one image; {@code reset} takes a space back to its base. */
class FlattenResetTest {
    @TempDir
    Path dir;
    private Path base;
    private Path overlay;
    private Path nat;

    @BeforeEach
    void images() throws Exception {
        base = GuestImages.base(dir);
        overlay = GuestImages.overlay(dir, base);
        nat = dir.resolve("guest.cow");
        ok("convert", overlay.toString(), "--to", "native", "-o", nat.toString());
    }

    private static void ok(String... args) {
        Ctl r = Ctl.run(args);
        assertEquals(0, r.status(), r.toString());
    }

    private static byte[] digest(Path file) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    }

    @Test
    void flattenedImagesAreTheGuestsDiskAndTheBaseIsUntouched() throws Exception {
        byte[] baseBefore = digest(base);
        FileTime baseTime = Files.getLastModifiedTime(base);

        Path raw = dir.resolve("flat.raw");
        ok("flatten", nat.toString(), "--base", base.toString(), "-o", raw.toString());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", "-f", "raw", raw.toString(),
                overlay.toString()).ok().out());
        assertEquals(GuestImages.SIZE, Files.size(raw));
        try (FileHoles holes = FileHoles.open(raw, Files.size(raw))) {
            // the base's hole from 4 MiB stays a hole up to the guest's write at 5 MiB
            assertEquals(5L << 20, holes.nextData(4L << 20));
            // the overlay's zero cluster over the base's data at 2 MiB is a hole too
            assertTrue(holes.nextData(2L << 20) >= (2L << 20) + (64 << 10));
        }

        Path qcow2 = dir.resolve("flat.qcow2");
        ok("flatten", overlay.toString(), "--format", "qcow2", "-o", qcow2.toString());
        assertEquals(0, Qemu.run("qemu-img", "check", qcow2.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", qcow2.toString(),
                overlay.toString()).ok().out());
        String info = Qemu.run("qemu-img", "info", qcow2.toString()).ok().out();
        assertFalse(info.contains("backing file"), info);

        assertArrayEquals(baseBefore, digest(base));
        assertEquals(baseTime, Files.getLastModifiedTime(base));

        // the flattened image is a new golden base: a space over it reads as it
        Path next = dir.resolve("next.cow");
        ok("format", "--base", raw.toString(), next.toString());
        ok("compare", "--base", raw.toString(), next.toString(), overlay.toString());
    }

    @Test
    void resetNativeKeepsTheSettingsAndReadsAsTheBase() throws Exception {
        long size = Files.size(nat);
        Ctl reset = Ctl.run("reset", nat.toString(), "--base", base.toString(), "--json");
        assertEquals(0, reset.status(), reset.toString());
        assertTrue(reset.out().contains("\"format\":\"native\",\"chunk_size\":65536,\"dropped_mappings\":9"),
                reset.out());
        ok("check", "--base", base.toString(), nat.toString());
        ok("compare", "--base", base.toString(), nat.toString(), base.toString());
        assertEquals(size, Files.size(nat));
        Ctl map = Ctl.run("map", "--json", "--base", base.toString(), nat.toString());
        assertFalse(map.out().contains("\"depth\":0"), map.out());
    }

    @Test
    void resetQcow2LeavesAnEmptyOverlayOfTheBase() throws Exception {
        Ctl reset = Ctl.run("reset", overlay.toString());
        assertEquals(0, reset.status(), reset.toString());
        assertEquals(0, Qemu.run("qemu-img", "check", overlay.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", overlay.toString(),
                base.toString()).ok().out());
        assertFalse(Qemu.run("qemu-img", "map", "--output=json", overlay.toString()).ok().out()
                .contains("\"depth\": 0"));
    }
}
