/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.dmcow.cli.Dmcowctl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl format/info/check} on qcow2 spaces, through the installed format. */
class Qcow2CommandsTest {
    @TempDir
    Path dir;

    private record Result(int status, String out) {
    }

    private static Result dmcowctl(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = Dmcowctl.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(out, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void formatInfoCheck() throws Exception {
        Path base = dir.resolve("base.raw");
        Files.write(base, new byte[4 << 20]);
        Path cow = dir.resolve("vm.qcow2");
        Result format = dmcowctl("format", "--format", "qcow2", "--base", base.toString(), "--cow", cow.toString(),
                "--chunk-size", "64k");
        assertEquals(0, format.status(), format.out());
        assertEquals(0, Qemu.run("qemu-img", "check", cow.toString()).exit());
        Result info = dmcowctl("info", cow.toString());
        assertEquals(0, info.status(), info.out());
        assertTrue(info.out().contains("qcow2"), info.out());
        assertTrue(info.out().contains("base:        " + base.toAbsolutePath() + "\n"), info.out());
        Result check = dmcowctl("check", cow.toString(), "--base", base.toString());
        assertEquals(0, check.status(), check.out());

        // a qcow2 file the format refuses is still recognised, and check says why
        Path snap = dir.resolve("snap.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw", snap.toString()).ok();
        Qemu.run("qemu-img", "snapshot", "-c", "s1", snap.toString()).ok();
        Result refused = dmcowctl("check", snap.toString());
        assertEquals(1, refused.status(), refused.out()); // as qemu-img's "check not completed"
        assertTrue(refused.out().contains("internal snapshot"), refused.out());
    }

    @Test
    void checkExitsThreeForLeaksOnlyAsQemuImgDoes() throws Exception {
        Path base = dir.resolve("base.raw");
        Files.write(base, new byte[4 << 20]);
        Path ov = dir.resolve("ov.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw", ov.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -P 1 0 64k", ov.toString()).ok();
        Qemu.run("qemu-img", "bitmap", "--add", ov.toString(), "b1").ok();
        assertEquals(0, dmcowctl("check", ov.toString()).status());
        // autoclear bit 0 cleared, as a writer without bitmap support does: the bitmap's clusters leak
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(ov,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.write(java.nio.ByteBuffer.allocate(8), Qcow2Header.OFF_AUTOCLEAR);
        }
        assertEquals(3, Qemu.run("qemu-img", "check", ov.toString()).exit());
        Result leaks = dmcowctl("check", ov.toString());
        assertEquals(3, leaks.status(), leaks.out());
        assertTrue(leaks.out().contains(ov + ": qcow2, only leaked clusters\n  leaked-clusters: "), leaks.out());
    }
}
