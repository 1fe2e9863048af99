/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.dmcow.format.qcow2.Qemu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 1 TiB volume, sparse, its data spread over the whole range, goes through map, export and
 * flatten in a separate JVM with a 48 MiB heap, as a qcow2 overlay and as a native space: what they
 * keep does not grow with the volume (the volume's 16 M chunks at 4 bytes each would already need
 * 64 MiB, as the native table did when the offline view read it whole).
 */
class TebibyteVolumeTest {
    private static final long TIB = 1L << 40;
    private static final int WRITES = 64;

    @TempDir
    Path dir;

    /** dmcowctl in its own JVM with a small heap and little direct memory; exit 0 or the test fails. */
    private static String dmcowctl(String... args) throws Exception {
        return dmcowctlWithHeap("48m", args);
    }

    private static String dmcowctlWithHeap(String heap, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx" + heap, "-XX:MaxDirectMemorySize=16m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), "org.dmcow.cli.Dmcowctl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", args) + "\n" + out);
        return out;
    }

    /** The base: 1 TiB, random data at its start, middle and end, holes between. */
    private Path base() throws Exception {
        Path base = dir.resolve("base.raw");
        Random random = new Random(1);
        byte[] data = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            f.setLength(TIB);
            for (long at : new long[] {0, TIB / 2 + 4096, TIB - data.length}) {
                random.nextBytes(data);
                f.seek(at);
                f.write(data);
            }
        }
        return base;
    }

    /** QEMU's overlay of {@code base}: {@link #WRITES} 64 KiB writes spread over the volume, some of zeros. */
    private Path overlay(Path base) throws Exception {
        Path overlay = dir.resolve("guest.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw",
                overlay.toString()).ok();
        List<String> io = new ArrayList<>(List.of("qemu-io"));
        for (int i = 0; i < WRITES; i++) {
            io.addAll(List.of("-c", (i % 8 == 7 ? "write -z " : "write -P " + (i + 1) + " ") + (i * (TIB / WRITES)
                    + i * 69632L) + " 64k"));
        }
        io.add(overlay.toString());
        Qemu.run(io.toArray(String[]::new)).ok();
        return overlay;
    }

    @Test
    void mapExportAndFlattenStreamATebibyte() throws Exception {
        Path overlay = overlay(base());

        String map = dmcowctl("map", "--json", overlay.toString());
        assertTrue(map.split("\"depth\":0").length > WRITES, map);

        Path exported = dir.resolve("exported.qcow2");
        dmcowctl("export", overlay.toString(), "-o", exported.toString());
        assertEquals(0, Qemu.run("qemu-img", "check", exported.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", overlay.toString(),
                exported.toString()).ok().out());

        Path flat = dir.resolve("flat.qcow2");
        dmcowctl("flatten", overlay.toString(), "--format", "qcow2", "-o", flat.toString());
        assertEquals(0, Qemu.run("qemu-img", "check", flat.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", flat.toString(),
                overlay.toString()).ok().out());
    }

    @Test
    void aNativeSpaceOfATebibyteStreamsToo() throws Exception {
        Path base = base();
        Path overlay = overlay(base);
        Path nat = dir.resolve("guest.cow");
        // convert fills the space as the daemon does, with the whole table in memory: not a streaming command
        dmcowctlWithHeap("256m", "convert", overlay.toString(), "--to", "native", "-o", nat.toString());

        String map = dmcowctl("map", "--json", "--base", base.toString(), nat.toString());
        assertTrue(map.split("\"depth\":0").length > WRITES, map);

        Path exported = dir.resolve("exported.qcow2");
        dmcowctl("export", nat.toString(), "--base", base.toString(), "-o", exported.toString());
        assertEquals(0, Qemu.run("qemu-img", "check", exported.toString()).exit());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", overlay.toString(),
                exported.toString()).ok().out());

        Path flat = dir.resolve("flat.raw");
        dmcowctl("flatten", nat.toString(), "--base", base.toString(), "-o", flat.toString());
        assertEquals("Images are identical.\n", Qemu.run("qemu-img", "compare", "-f", "raw", flat.toString(),
                overlay.toString()).ok().out());
    }
}
