/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dmcow.cli.Ctl;
import org.dmcow.format.qcow2.Qemu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl map} and {@code compare} say what {@code qemu-img map} and {@code compare} say. */
class MapCompareTest {
    @TempDir
    Path dir;
    private Path base;
    private Path overlay;

    @BeforeEach
    void images() throws Exception {
        base = GuestImages.base(dir);
        overlay = GuestImages.overlay(dir, base);
    }

    private static List<String> entries(String json) {
        List<String> list = new ArrayList<>();
        Matcher m = Pattern.compile("\\{\"start\"[^}]*\\}").matcher(json.replace(" ", ""));
        while (m.find()) {
            list.add(m.group());
        }
        return list;
    }

    @Test
    void mapOfAQemuOverlayIsQemuImgMap() throws Exception {
        Ctl json = Ctl.run("map", "--json", overlay.toString());
        assertEquals(0, json.status(), json.toString());
        List<String> qemu = entries(Qemu.run("qemu-img", "map", "--output=json", overlay.toString()).ok().out());
        assertTrue(qemu.size() > 8, qemu.toString()); // data, zeros and holes on both levels
        assertEquals(qemu, entries(json.out()));

        Ctl human = Ctl.run("map", overlay.toString());
        assertEquals(0, human.status(), human.toString());
        assertEquals(Qemu.run("qemu-img", "map", overlay.toString()).ok().out(), human.out());
    }

    @Test
    void mapOfANativeSpaceShowsItsChunksAtDepthZero() throws Exception {
        Path nat = dir.resolve("guest.cow");
        assertEquals(0, Ctl.run("convert", overlay.toString(), "--to", "native", "-o", nat.toString()).status());
        Ctl map = Ctl.run("map", "--json", "--base", base.toString(), nat.toString());
        assertEquals(0, map.status(), map.toString());
        // every cluster the overlay holds, zero clusters included (native places zeros), and nothing else
        long written = 0;
        for (String e : entries(map.out())) {
            if (e.contains("\"depth\":0")) {
                assertTrue(e.contains("\"data\":true"), e);
                written += Long.parseLong(e.replaceAll(".*\"length\":(\\d+).*", "$1"));
            }
        }
        long overlayBytes = 0;
        for (String e : entries(Qemu.run("qemu-img", "map", "--output=json", overlay.toString()).ok().out())) {
            if (e.contains("\"depth\":0")) {
                overlayBytes += Long.parseLong(e.replaceAll(".*\"length\":(\\d+).*", "$1"));
            }
        }
        assertEquals(overlayBytes, written);
    }

    @Test
    void compareSaysWhatQemuImgCompareSays() throws Exception {
        Path raw = dir.resolve("guest.raw");
        Qemu.run("qemu-img", "convert", "-O", "raw", overlay.toString(), raw.toString()).ok();
        Ctl same = Ctl.run("compare", overlay.toString(), raw.toString());
        assertEquals(0, same.status(), same.toString());
        assertEquals("Images are identical.\n", same.out());

        try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
            f.seek((6L << 20) + 1000); // in the overlay's zero cluster over the base's hole
            f.write(7);
        }
        Qemu.Result qemu = Qemu.run("qemu-img", "compare", overlay.toString(), raw.toString());
        assertEquals(1, qemu.exit(), qemu.out() + qemu.err());
        Ctl differ = Ctl.run("compare", overlay.toString(), raw.toString());
        assertEquals(1, differ.status(), differ.toString());
        assertEquals(qemu.out(), differ.out());

        Ctl json = Ctl.run("compare", "--json", overlay.toString(), base.toString());
        assertEquals(1, json.status(), json.toString());
        assertTrue(json.out().contains("\"identical\":false,\"mismatch_offset\":69632"), json.out());

        Ctl missing = Ctl.run("compare", overlay.toString(), dir.resolve("nothing.raw").toString());
        assertEquals(2, missing.status(), missing.toString()); // qemu-img compare's "error"
        assertEquals("dmcowctl compare: " + dir.resolve("nothing.raw") + ": no such file or directory",
                missing.firstErrLine());
    }

    /** {@code dmcowctl compare SPACE OTHER} says, and exits with, what {@code qemu-img compare} does. */
    private void sameVerdictAsQemuImg(List<String> space, Path other, int expected) throws Exception {
        Qemu.Result qemu = Qemu.run("qemu-img", "compare", overlay.toString(), other.toString());
        assertEquals(expected, qemu.exit(), qemu.out() + qemu.err());
        List<String> args = new ArrayList<>(List.of("compare"));
        args.addAll(space);
        args.add(other.toString());
        Ctl ctl = Ctl.run(args.toArray(String[]::new));
        assertEquals(expected, ctl.status(), other + ": " + ctl);
        assertEquals(qemu.out(), ctl.out(), other.toString());
    }

    @Test
    void compareReadsAQcow2OtherWithOrWithoutBackingAsQemuImgDoes() throws Exception {
        Path nat = dir.resolve("guest.cow");
        assertEquals(0, Ctl.run("convert", overlay.toString(), "--to", "native", "-o", nat.toString()).status());
        Path standalone = dir.resolve("standalone.qcow2"); // no backing file
        Qemu.run("qemu-img", "convert", "-O", "qcow2", overlay.toString(), standalone.toString()).ok();
        Path overStandalone = dir.resolve("over-standalone.qcow2"); // a qcow2 backing file
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", standalone.toString(), "-F", "qcow2",
                overStandalone.toString()).ok();
        Path overOverlay = dir.resolve("over-overlay.qcow2"); // a chain of three: qcow2, qcow2, raw
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", overlay.toString(), "-F", "qcow2",
                overOverlay.toString()).ok();
        Path changed = dir.resolve("changed.qcow2"); // zeros over base data, through two levels
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", overlay.toString(), "-F", "qcow2",
                changed.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -z 3584k 4k", "-c", "write -P 0x55 7M 4k", changed.toString()).ok();
        Path changedStandalone = dir.resolve("changed-standalone.qcow2");
        Qemu.run("qemu-img", "convert", "-O", "qcow2", changed.toString(), changedStandalone.toString()).ok();

        for (List<String> space : List.of(List.of("--base", base.toString(), nat.toString()),
                List.of(overlay.toString()))) {
            for (Path identical : List.of(standalone, overStandalone, overOverlay)) {
                sameVerdictAsQemuImg(space, identical, 0);
            }
            sameVerdictAsQemuImg(space, changed, 1);
            sameVerdictAsQemuImg(space, changedStandalone, 1);
        }
    }
}
