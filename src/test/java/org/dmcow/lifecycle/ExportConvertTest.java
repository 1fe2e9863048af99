/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dmcow.cli.Ctl;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.qcow2.Qcow2Format;
import org.dmcow.format.qcow2.Qemu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl export} and {@code convert}, judged by qemu-img: check clean, compare identical. */
class ExportConvertTest {
    private static final long CLUSTER = 64 << 10;

    @TempDir
    Path dir;
    private Path base;
    private Path overlay;

    @BeforeEach
    void images() throws Exception {
        base = GuestImages.base(dir);
        overlay = GuestImages.overlay(dir, base);
    }

    private static void ok(String... args) {
        Ctl r = Ctl.run(args);
        assertEquals(0, r.status(), r.toString());
    }

    /** qemu-img map's entries of the image itself (depth 0), as "start length zero". */
    private static List<String> ownRanges(Path image) throws Exception {
        List<String> list = new ArrayList<>();
        Matcher m = Pattern.compile("\\{[^}]*\\}").matcher(Qemu.run("qemu-img", "map", "--output=json",
                image.toString()).ok().out());
        while (m.find()) {
            String e = m.group();
            if (e.contains("\"depth\": 0")) {
                list.add(e.replaceAll(".*\"start\": (\\d+), \"length\": (\\d+),.*\"zero\": (\\w+).*", "$1 $2 $3"));
            }
        }
        return list;
    }

    @Test
    void aQemuOverlayThroughNativeAndBackIsIdentical() throws Exception {
        Path nat = dir.resolve("guest.cow");
        ok("convert", overlay.toString(), "--to", "native", "-o", nat.toString());
        ok("check", "--base", base.toString(), nat.toString());
        Path back = dir.resolve("back.qcow2");
        Ctl export = Ctl.run("export", nat.toString(), "--base", base.toString(), "-o", back.toString(), "--json");
        assertEquals(0, export.status(), export.toString());

        assertEquals(0, Qemu.run("qemu-img", "check", back.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", overlay.toString(),
                back.toString()).ok().out());
        String info = Qemu.run("qemu-img", "info", "--output=json", back.toString()).ok().out();
        assertTrue(info.contains("\"backing-filename\": \"" + base.toAbsolutePath() + "\""), info);
        assertTrue(info.contains("\"backing-filename-format\": \"raw\""), info);
        ok("compare", "--base", base.toString(), nat.toString(), overlay.toString());

        // compact: header, L1, one L2 table, the data clusters, a refcount table and block; no holes
        long dataClusters = 0;
        long dataBytes = 0; // the last cluster is partial: only the volume's bytes are copied
        for (String r : ownRanges(back)) {
            long length = Long.parseLong(r.split(" ")[1]);
            dataClusters += (length + CLUSTER - 1) / CLUSTER;
            dataBytes += length;
        }
        assertEquals((dataClusters + 5) * CLUSTER, Files.size(back));
        Config json = ConfigFactory.parseString(export.out());
        assertEquals(dataBytes, json.getLong("copied_bytes"));
        assertEquals(Files.size(back), json.getLong("output_bytes"));
    }

    @Test
    void convertToQcow2KeepsZeroClustersAndDmcowServesTheResult() throws Exception {
        Path converted = dir.resolve("converted.qcow2");
        Ctl convert = Ctl.run("convert", overlay.toString(), "--to", "qcow2", "-o", converted.toString(), "-p");
        assertEquals(0, convert.status(), convert.toString());
        // qemu-img -p's line, rewritten in place on stderr, ending at 100%
        assertTrue(convert.err().startsWith("    (0.") && convert.err().endsWith("    (100.00/100%)\r\n"),
                convert.err());
        assertTrue(convert.out().matches("converted " + overlay + " \\(qcow2\\) to " + converted + " \\(qcow2\\): "
                + "396K copied in [0-9.]+ s, [0-9.]+[KMG]/s; " + converted + " is 768K\n"), convert.out());
        assertEquals(0, Qemu.run("qemu-img", "check", converted.toString()).exit());
        assertEquals(ownRanges(overlay), ownRanges(converted)); // the zero clusters are still zero clusters
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", overlay.toString(),
                converted.toString()).ok().out());

        // the daemon's format opens it and places a new chunk beside the exported ones
        long chunk = (1L << 20) / CLUSTER + 3;
        try (FileBaseImage b = FileBaseImage.open(base);
                CowSpace space = new Qcow2Format().open(FileCowStore.open(converted, false, null), b)) {
            CowSpace.Placement p = space.place(chunk);
            try (FileCowStore store = FileCowStore.open(converted, false, null)) {
                ByteBuffer data = ByteBuffer.allocate((int) CLUSTER);
                java.util.Arrays.fill(data.array(), (byte) 0x55);
                store.write(data, p.place());
                store.flush();
            }
            space.commit(List.of(new CowSpace.Mapping(chunk, p.place())));
        }
        assertEquals(0, Qemu.run("qemu-img", "check", converted.toString()).exit());
        Qemu.run("qemu-io", "-c", "read -P 0x55 " + chunk * CLUSTER + " 64k", "-c", "read -P 0x22 1M 192k",
                converted.toString()).ok();
    }

    @Test
    void aServedQcow2SpaceIsExportedWithoutThePlacementHoles() throws Exception {
        Path space = dir.resolve("space.qcow2");
        ok("format", "--format", "qcow2", "--base", base.toString(), space.toString());
        try (FileBaseImage b = FileBaseImage.open(base);
                FileCowStore store = FileCowStore.open(space, false, null);
                CowSpace s = new Qcow2Format().open(store, b)) {
            List<CowSpace.Mapping> batch = new ArrayList<>();
            for (long chunk : new long[] {1, 40, 100}) { // three placement groups, a run reserved for each
                long place = s.place(chunk).place();
                ByteBuffer data = ByteBuffer.allocate((int) CLUSTER);
                java.util.Arrays.fill(data.array(), (byte) chunk);
                store.write(data, place);
                batch.add(new CowSpace.Mapping(chunk, place));
            }
            store.flush();
            s.commit(batch);
        }
        Path exported = dir.resolve("exported.qcow2");
        ok("export", space.toString(), "--base", base.toString(), "-o", exported.toString());
        assertEquals(0, Qemu.run("qemu-img", "check", exported.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", space.toString(),
                exported.toString()).ok().out());
        assertEquals(8 * CLUSTER, Files.size(exported)); // header, L1, L2, 3 chunks, refcount table and block
        assertTrue(Files.size(space) > Files.size(exported) + 16 * CLUSTER, Files.size(space) + " bytes");
    }
}
