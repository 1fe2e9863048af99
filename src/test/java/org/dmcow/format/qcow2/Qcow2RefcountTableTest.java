/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A full refcount table is relocated and the image stays valid for QEMU. */
class Qcow2RefcountTableTest {
    @TempDir
    Path dir;

    @Test
    void allocationPastTheTableRelocatesIt() throws Exception {
        Path basePath = dir.resolve("base.raw");
        byte[] bytes = new byte[1024 * 1024];
        new Random(9).nextBytes(bytes);
        Files.write(basePath, bytes);
        Path cow = dir.resolve("cow.qcow2");
        Qcow2Format format = new Qcow2Format();
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, 4096, OptionalLong.empty(), false));
            long oldTable;
            // move the file's end (sparsely) to just before what a one-cluster table can describe
            try (FileCowStore store = FileCowStore.open(cow, false, null)) {
                Qcow2Header h = Qcow2Header.read(store);
                assertEquals(1, h.refcountTableClusters);
                oldTable = h.refcountTableOffset;
                Qcow2Refcounts refcounts = Qcow2Refcounts.read(store, h);
                long describable = 512L * 2048;
                refcounts.setEndCluster(describable - 3);
                List<Long> scratch = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    scratch.add(refcounts.allocate());
                }
                assertTrue(scratch.get(scratch.size() - 1) >= describable, scratch.toString());
                for (long c : scratch) {
                    refcounts.set(c, 0);
                }
                store.flush();
            }
            Qemu.Result check = Qemu.run("qemu-img", "check", cow.toString());
            assertEquals(0, check.exit(), check.out() + check.err());
            try (FileCowStore store = FileCowStore.openReadOnly(cow)) {
                Qcow2Header h = Qcow2Header.read(store);
                assertNotEquals(oldTable, h.refcountTableOffset);
                assertTrue(h.refcountTableClusters >= 2);
            }
            byte[] expected = DataPathDouble.baseContent(base);
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace space = format.open(store, base);
                    DataPathDouble kernel = new DataPathDouble(space, base, cow, expected)) {
                byte[] data = new byte[50000];
                new Random(2).nextBytes(data);
                kernel.write(300000, data);
                kernel.commit();
            }
            check = Qemu.run("qemu-img", "check", cow.toString());
            assertEquals(0, check.exit(), check.out() + check.err());
            Path expectedRaw = dir.resolve("expected.raw");
            Files.write(expectedRaw, expected);
            Qemu.Result compare = Qemu.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2",
                    expectedRaw.toString(), cow.toString());
            assertEquals(0, compare.exit(), compare.out() + compare.err());
        }
    }
}
