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
}
