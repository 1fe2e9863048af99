/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.stream.Stream;
import org.dmcow.cli.Ctl;
import org.dmcow.format.qcow2.Qemu;
import org.dmcow.host.ImageLock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the offline commands refuse: the cause named, exit 1, and nothing written anywhere. */
class RefusalTest {
    @TempDir
    Path dir;
    private Path base;
    private Path overlay;
    private Path nat;
    private byte[] before;

    @BeforeEach
    void images() throws Exception {
        base = GuestImages.base(dir);
        overlay = GuestImages.overlay(dir, base);
        nat = dir.resolve("guest.cow");
        assertEquals(0, Ctl.run("convert", overlay.toString(), "--to", "native", "-o", nat.toString()).status());
        before = snapshot();
    }

    /** Every file of the folder, names and contents: a refusal changes none and adds none. */
    private byte[] snapshot() throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        try (Stream<Path> files = Files.list(dir).sorted()) {
            for (Path f : (Iterable<Path>) files::iterator) {
                d.update(f.getFileName().toString().getBytes());
                d.update(Files.readAllBytes(f));
            }
        }
        return d.digest();
    }

    @AfterEach
    void nothingWritten() throws Exception {
        assertArrayEquals(before, snapshot());
    }

    private static Ctl refused(String... args) {
        Ctl r = Ctl.run(args);
        assertEquals(1, r.status(), r.toString());
        return r;
    }

    @Test
    void aSpaceDmcowdServesIsRefusedByEveryCommand() throws Exception {
        Path out = dir.resolve("out.img");
        // dmcowd's own lock on a served space (ImageLock.Use.WRITE), here taken by this process
        try (ImageLock served = ImageLock.take(nat, ImageLock.Use.WRITE)) {
            for (List<String> args : List.of(
                    List.of("export", nat.toString(), "--base", base.toString(), "-o", out.toString()),
                    List.of("convert", nat.toString(), "--base", base.toString(), "--to", "qcow2", "-o", out.toString()),
                    List.of("flatten", nat.toString(), "--base", base.toString(), "-o", out.toString()),
                    List.of("reset", nat.toString(), "--base", base.toString()),
                    List.of("map", nat.toString(), "--base", base.toString()))) {
                Ctl r = refused(args.toArray(String[]::new));
                assertTrue(r.firstErrLine().startsWith("dmcowctl " + args.get(0) + ": " + nat + ": in use: "),
                        r.toString());
                assertTrue(r.firstErrLine().endsWith("this command works offline only: remove the volume from "
                        + "dmcowd (take it out of the config and reload) first"), r.toString());
            }
            assertEquals(2, Ctl.run("compare", nat.toString(), "--base", base.toString(), base.toString()).status());
        }
    }

    @Test
    void anImageQemuHasOpenIsRefused() throws Exception {
        Process qemu = Qemu.holding(overlay);
        try {
            Ctl r = refused("export", overlay.toString(), "-o", dir.resolve("out.qcow2").toString());
            assertTrue(r.firstErrLine().contains(overlay + ": in use: failed to get shared \"write\" lock (held by "
                    + "pid " + qemu.pid() + " qemu-io)"), r.toString());
        } finally {
            qemu.destroy();
            qemu.waitFor();
        }
    }

    @Test
    void anExistingOutputIsReplacedOnlyWithForce() throws Exception {
        Path out = dir.resolve("kept.qcow2");
        Files.writeString(out, "the operator's file");
        before = snapshot();
        Ctl r = refused("export", overlay.toString(), "-o", out.toString());
        assertEquals("dmcowctl export: " + out + ": exists; use --force to replace it", r.firstErrLine());
        Ctl json = refused("flatten", overlay.toString(), "-o", out.toString(), "--json");
        assertTrue(json.out().contains("\"path\":\"" + out + "\""), json.out());

        assertEquals(0, Ctl.run("export", overlay.toString(), "-o", out.toString(), "--force").status());
        assertEquals(0, Qemu.run("qemu-img", "check", out.toString()).exit());
        before = snapshot();
    }

    @Test
    void theBaseOrTheSpaceIsNeverTheOutputEvenWithForce() throws Exception {
        Path link = dir.resolve("golden-link.img");
        Files.createSymbolicLink(link, base);
        before = snapshot();
        for (Path out : List.of(base, link)) {
            Ctl r = refused("flatten", nat.toString(), "--base", base.toString(), "-o", out.toString(), "--force");
            assertTrue(r.firstErrLine().startsWith("dmcowctl flatten: " + out + ": is the base " + base), r.toString());
            assertTrue(r.firstErrLine().endsWith("a base is never written, not even with --force"), r.toString());
        }
        Ctl self = refused("convert", overlay.toString(), "--to", "qcow2", "-o", overlay.toString(), "--force");
        assertTrue(self.firstErrLine().contains(overlay + ": is the CoW space " + overlay + " being read"),
                self.toString());
    }

    @Test
    void aWrongBaseIsRefused() throws Exception {
        Path other = dir.resolve("other.raw");
        try (RandomAccessFile f = new RandomAccessFile(other.toFile(), "rw")) {
            f.setLength(GuestImages.SIZE); // the same size, other content
        }
        before = snapshot();
        Path out = dir.resolve("out.qcow2");
        Ctl natWrong = refused("export", nat.toString(), "--base", other.toString(), "-o", out.toString());
        assertTrue(natWrong.firstErrLine().contains(nat + ": was made for another base: the content of " + other
                + " does not match"), natWrong.toString());
        Ctl qcowWrong = refused("reset", overlay.toString(), "--base", other.toString());
        assertTrue(qcowWrong.firstErrLine().contains("not the configured base"), qcowWrong.toString());
        Ctl noBase = refused("map", nat.toString());
        assertEquals("dmcowctl map: " + nat + ": a native space does not record its base's path; give it with "
                + "--base", noBase.firstErrLine());
        assertFalse(Files.exists(out));
    }
}
