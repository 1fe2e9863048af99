/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import org.dmcow.format.CheckReport;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.SpaceInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Seeded random write traces through the format, checked by qemu-img check, compare and map. */
class Qcow2TraceTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"4096, 1", "65536, 2", "2097152, 3"})
    void traceIsCleanAndMatchesQemu(long chunk, long seed) throws Exception {
        Random rnd = new Random(seed);
        Path basePath = dir.resolve("base.raw");
        byte[] baseBytes = new byte[5 * 1024 * 1024 + 1536];
        rnd.nextBytes(baseBytes);
        Files.write(basePath, baseBytes);
        Path cow = dir.resolve("cow.qcow2");
        CowFormat format = CowFormats.byName("qcow2");
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, chunk, OptionalLong.empty(), false));
            Qemu.run("qemu-img", "check", cow.toString()).ok();
            byte[] expected = DataPathDouble.baseContent(base);
            // two sessions: the second reopens what the first left
            for (int session = 0; session < 2; session++) {
                try (FileCowStore store = FileCowStore.open(cow, false, null);
                        CowSpace space = format.open(store, base);
                        DataPathDouble kernel = new DataPathDouble(space, base, cow, expected)) {
                    for (int op = 0; op < 120; op++) {
                        int len = 1 + rnd.nextInt((int) Math.min(3 * chunk, 200_000));
                        long off = rnd.nextInt(baseBytes.length - len + 1);
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        kernel.write(off, data);
                        if (op % 7 == 6) {
                            kernel.commit();
                        }
                    }
                    kernel.commit();
                }
            }
            Qemu.Result check = Qemu.run("qemu-img", "check", cow.toString());
            assertEquals(0, check.exit(), check.out() + check.err());
            Path expectedRaw = dir.resolve("expected.raw");
            Files.write(expectedRaw, expected);
            Qemu.Result compare = Qemu.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2",
                    expectedRaw.toString(), cow.toString());
            assertEquals(0, compare.exit(), compare.out() + compare.err());

            String map = Qemu.run("qemu-img", "map", "--output=json", cow.toString()).ok().out();
            List<CowSpace.Mapping> ours = new ArrayList<>();
            try (FileCowStore store = FileCowStore.openReadOnly(cow);
                    CowSpace space = format.open(store, base)) {
                space.forEachMapping((c, p) -> ours.add(new CowSpace.Mapping(c, p)));
                assertEquals(ours.size(), space.usage().mappings());
            }
            assertTrue(ours.size() >= Math.min(10, (baseBytes.length + chunk - 1) / chunk), "the trace mapped chunks");
            assertEquals(Qemu.dataMappings(map, chunk), ours);

            try (FileCowStore store = FileCowStore.openReadOnly(cow)) {
                CheckReport report = format.check(store, java.util.Optional.of(base));
                assertTrue(report.clean(), report.findings().toString());
                SpaceInfo info = format.info(store);
                assertEquals(ours.size(), info.mappings());
                assertEquals(chunk, info.chunkSize());
                assertEquals(baseBytes.length, info.volumeSize());
            }
        }
    }
}
