/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import org.dmcow.format.CheckReport;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Images the daemon cannot serve are refused at open, with the feature named and nothing written. */
class Qcow2RefusalTest {
    @TempDir
    Path dir;
    private Path base;
    private Path ov;
    private final Qcow2Format format = new Qcow2Format();

    @BeforeEach
    void images() throws Exception {
        base = dir.resolve("base.raw");
        byte[] b = new byte[3 * 1024 * 1024];
        new Random(1).nextBytes(b);
        Files.write(base, b);
        ov = dir.resolve("ov.qcow2");
    }

    private void qemuImg(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "qemu-img";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Qemu.run(cmd).ok();
    }

    private void overlay(String... options) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
        cmd.addAll(List.of(options));
        cmd.add(ov.toString());
        Qemu.run(cmd.toArray(String[]::new)).ok();
    }

    /** Opens {@link #ov} against {@link #base}: must refuse naming the file and {@code feature}, unchanged. */
    private void assertRefused(String feature) throws Exception {
        byte[] before = Files.readAllBytes(ov);
        FormatException e;
        try (FileBaseImage b = FileBaseImage.open(base); FileCowStore store = FileCowStore.open(ov, false, null)) {
            e = assertThrows(FormatException.class, () -> format.open(store, b).close());
        }
        assertTrue(e.getMessage().contains(ov.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(feature), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(ov), "the image was written");
        try (FileCowStore store = FileCowStore.openReadOnly(ov)) {
            CheckReport report = format.check(store, java.util.Optional.of(FileBaseImage.open(base)));
            assertTrue(!report.clean() && report.findings().get(0).message().contains(feature), report.toString());
        }
    }

    private void patchIncompatible(long bits) throws Exception {
        byte[] img = Files.readAllBytes(ov);
        ByteBuffer.wrap(img).putLong(72, ByteBuffer.wrap(img).getLong(72) | bits);
        Files.write(ov, img);
    }

    @Test
    void compressedClusters() throws Exception {
        overlay("-b", base.toString(), "-F", "raw");
        Qemu.run("qemu-io", "-c", "write -c -P 1 0 64k", ov.toString()).ok();
        assertRefused("compressed clusters");
        try (FileCowStore store = FileCowStore.openReadOnly(ov)) {
            // the compressed data's clusters are counted as referenced: no false leak
            assertEquals(1, format.check(store, java.util.Optional.empty()).findings().size());
        }
    }

    @Test
    void encryption() throws Exception {
        // LUKS times its key derivation, which qemu-img sometimes cannot do on a busy machine: retry
        Qemu.Result made = null;
        for (int attempt = 0; attempt < 5 && (made == null || made.exit() != 0); attempt++) {
            made = Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=sec0,data=secret",
                    "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=50",
                    "-b", base.toString(), "-F", "raw", ov.toString());
        }
        made.ok();
        assertRefused("encryption");
    }

    @Test
    void internalSnapshots() throws Exception {
        overlay("-b", base.toString(), "-F", "raw");
        qemuImg("snapshot", "-c", "s1", ov.toString());
        assertRefused("internal snapshot");
    }

    @Test
    void externalDataFile() throws Exception {
        overlay("-o", "data_file=" + dir.resolve("ov.data"), "-b", base.toString(), "-F", "raw");
        assertRefused("external data file");
    }

    @Test
    void extendedL2() throws Exception {
        overlay("-o", "extended_l2=on", "-b", base.toString(), "-F", "raw");
        assertRefused("extended L2");
    }

    @Test
    void eightBitRefcounts() throws Exception {
        overlay("-o", "refcount_bits=8", "-b", base.toString(), "-F", "raw");
        assertRefused("8-bit refcounts");
    }

    @Test
    void qcow2BackingFile() throws Exception {
        Path qbase = dir.resolve("base.qcow2");
        qemuImg("convert", "-O", "qcow2", base.toString(), qbase.toString());
        overlay("-b", qbase.toString(), "-F", "qcow2");
        assertRefused("format \"qcow2\"");
    }

    @Test
    void missingBackingFormat() throws Exception {
        overlay("-b", base.toString(), "-F", "raw");
        byte[] img = Files.readAllBytes(ov);
        ByteBuffer h = ByteBuffer.wrap(img);
        int pos = h.getInt(100);
        while (h.getInt(pos) != Qcow2Header.EXT_BACKING_FORMAT) {
            pos += 8 + ((h.getInt(pos + 4) + 7) & ~7);
        }
        h.putInt(pos, 0x0badcafe); // an unknown extension: the format is no longer recorded
        Files.write(ov, img);
        assertRefused("does not record its backing file format");
    }

    @Test
    void noBackingFile() throws Exception {
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", ov.toString(), "3M").ok();
        assertRefused("no backing file");
    }

    @ParameterizedTest
    @ValueSource(strings = {"dirty", "corrupt"})
    void dirtyOrCorruptBit(String which) throws Exception {
        overlay("-b", base.toString(), "-F", "raw");
        patchIncompatible(which.equals("dirty") ? 1 : 2);
        assertRefused("the " + which + " bit set; repair it with `qemu-img check -r all");
    }

    @Test
    void unknownIncompatibleBit() throws Exception {
        overlay("-b", base.toString(), "-F", "raw");
        patchIncompatible(1L << 20);
        assertRefused("unknown incompatible feature bits 20");
    }

    @Test
    void wrongBase() throws Exception {
        Path other = dir.resolve("other.raw");
        Files.write(other, new byte[3 * 1024 * 1024]);
        overlay("-b", other.toString(), "-F", "raw");
        assertRefused("not the configured base");
    }

    @Test
    void relativeBackingNameOutsideTheImageDirectory() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("sub"));
        Files.copy(base, sub.resolve("base.raw"));
        // "base.raw" relative to the image's directory (dir) is dir/base.raw, so sub/base.raw is wrong
        ov = sub.resolve("ov.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "../base.raw", "-F", "raw", ov.toString(),
                "3M").ok();
        try (FileBaseImage b = FileBaseImage.open(base); FileCowStore store = FileCowStore.open(ov, false, null);
                CowSpace space = format.open(store, b)) {
            assertEquals(3 * 1024 * 1024, space.volumeSize());
        }
        base = sub.resolve("base.raw");
        assertRefused("not the configured base");
    }

    @Test
    void version2() throws Exception {
        overlay("-o", "compat=0.10", "-b", base.toString(), "-F", "raw");
        assertRefused("version 2");
    }

    @Test
    void clusterSmallerThan4k() throws Exception {
        overlay("-o", "cluster_size=512", "-b", base.toString(), "-F", "raw");
        assertRefused("cluster size 512");
    }

    @Test
    void sizeDiffersFromBase() throws Exception {
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "raw", ov.toString(), "4M")
                .ok();
        assertRefused("virtual size");
    }

    @Test
    void createRefusesBadChunkAndExistingFile() throws Exception {
        try (FileBaseImage b = FileBaseImage.open(base)) {
            FormatException chunk = assertThrows(FormatException.class,
                    () -> format.create(new CowFormat.CreateRequest(ov, b, 3000, OptionalLong.empty(), false)));
            assertTrue(chunk.getMessage().contains("power of two"), chunk.getMessage());
            assertTrue(Files.notExists(ov));
            Path odd = dir.resolve("odd.raw");
            Files.write(odd, new byte[5000]);
            try (FileBaseImage oddBase = FileBaseImage.open(odd)) {
                FormatException sectors = assertThrows(FormatException.class, () -> format.create(
                        new CowFormat.CreateRequest(ov, oddBase, 4096, OptionalLong.empty(), false)));
                assertTrue(sectors.getMessage().contains("512-byte sectors"), sectors.getMessage());
            }
            assertTrue(Files.notExists(ov));
            Files.write(ov, new byte[] {1});
            FormatException exists = assertThrows(FormatException.class,
                    () -> format.create(new CowFormat.CreateRequest(ov, b, 65536, OptionalLong.empty(), false)));
            assertTrue(exists.getMessage().contains(ov + ": already holds data (a non-zero byte at offset 0); use --force"),
                    exists.getMessage());
            assertArrayEquals(new byte[] {1}, Files.readAllBytes(ov));
            format.create(new CowFormat.CreateRequest(ov, b, 65536, OptionalLong.empty(), true));
            assertEquals(0, Qemu.run("qemu-img", "check", ov.toString()).exit());
        }
    }

    @Test
    void autoclearBitsAreClearedBeforeTheFirstWriteOnly() throws Exception {
        overlay("-b", base.toString(), "-F", "raw");
        qemuImg("bitmap", "--add", ov.toString(), "b0");
        byte[] before = Files.readAllBytes(ov);
        assertEquals(1, ByteBuffer.wrap(before).getLong(Qcow2Header.OFF_AUTOCLEAR));
        try (FileBaseImage b = FileBaseImage.open(base); FileCowStore store = FileCowStore.open(ov, false, null);
                CowSpace space = format.open(store, b)) {
            assertArrayEquals(before, Files.readAllBytes(ov), "opening wrote");
            try (DataPathDouble kernel = new DataPathDouble(space, b, ov, DataPathDouble.baseContent(b))) {
                kernel.write(5000, new byte[100]);
                kernel.commit();
            }
        }
        assertEquals(0, ByteBuffer.wrap(Files.readAllBytes(ov)).getLong(Qcow2Header.OFF_AUTOCLEAR));
        // QEMU now ignores the bitmaps; their clusters are leaks, not corruption
        assertEquals(3, Qemu.run("qemu-img", "check", ov.toString()).exit());
    }
}
