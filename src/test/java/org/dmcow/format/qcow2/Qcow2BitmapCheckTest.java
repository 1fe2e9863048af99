/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dmcow.format.CheckReport;
import org.dmcow.format.FileCowStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checker sees persistent bitmaps as `qemu-img check` does, with their clusters counted while consistent. */
class Qcow2BitmapCheckTest {
    @TempDir
    Path dir;

    private static CheckReport check(Path image) throws Exception {
        try (FileCowStore store = FileCowStore.openReadOnly(image)) {
            return new Qcow2Format().check(store, Optional.empty());
        }
    }

    private Path overlayWithBitmaps() throws Exception {
        Path base = dir.resolve("base.raw");
        Files.write(base, new byte[8 << 20]);
        Path ov = dir.resolve("ov.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw", "-o",
                "cluster_size=64k", ov.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -P 1 0 128k", ov.toString()).ok();
        Qemu.run("qemu-img", "bitmap", "--add", ov.toString(), "b1").ok();
        Qemu.run("qemu-img", "bitmap", "--add", "-g", "64k", ov.toString(), "second bitmap").ok();
        // writes with the bitmaps enabled give them dirty bits, so their data clusters are stored
        Qemu.run("qemu-io", "-c", "write -P 2 1M 64k", "-c", "write -P 3 5M 64k", ov.toString()).ok();
        assertTrue(Qemu.run("qemu-img", "info", ov.toString()).ok().out().contains("second bitmap"));
        return ov;
    }

    private static long qemuLeaks(Qemu.Result r) {
        Matcher m = Pattern.compile("(\\d+) leaked clusters were found").matcher(r.out());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    @Test
    void consistentBitmapsAreReferencedNotLeaked() throws Exception {
        Path ov = overlayWithBitmaps();
        Qemu.Result qemu = Qemu.run("qemu-img", "check", ov.toString());
        assertEquals(0, qemu.exit(), qemu.out() + qemu.err());
        CheckReport ours = check(ov);
        assertEquals(List.of(), ours.findings());
    }

    @Test
    void bitmapsClearedByAWriterWithoutBitmapSupportAreTheLeaksQemuSees() throws Exception {
        Path ov = overlayWithBitmaps();
        try (FileCowStore store = FileCowStore.open(ov, false, null)) {
            store.write(ByteBuffer.allocate(8), Qcow2Header.OFF_AUTOCLEAR); // what the daemon does on its first write
        }
        Qemu.Result qemu = Qemu.run("qemu-img", "check", ov.toString());
        assertEquals(3, qemu.exit(), qemu.out() + qemu.err());
        long leaked = qemuLeaks(qemu);
        assertTrue(leaked >= 5, qemu.out()); // a directory, two tables, data of both bitmaps
        CheckReport ours = check(ov);
        assertEquals(1, ours.findings().size(), ours.findings().toString());
        assertEquals("leaked-clusters", ours.findings().get(0).code());
        assertTrue(ours.findings().get(0).message().contains(": " + leaked + " cluster(s)"), ours.findings().toString());
        // the repair the finding suggests frees exactly those
        Qemu.run("qemu-img", "check", "-q", "-r", "leaks", ov.toString()).ok();
        assertEquals(List.of(), check(ov).findings());
    }
}
