/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Places a crash left counted and never committed (chunks placed or granted ahead when the power
 * went) are freed by the next daemon when it creates the device: exactly what qemu-img check calls
 * leaked, and nothing committed, reserved since the open, or described by metadata.
 */
class Qcow2LeakReclaimTest {
    private static final int CHUNK = 65536;

    @TempDir
    Path dir;
    private Path basePath;
    private Path cow;
    private final Qcow2Format format = new Qcow2Format();

    @BeforeEach
    void create() throws Exception {
        basePath = dir.resolve("base.raw");
        byte[] baseBytes = new byte[256 * CHUNK];
        new Random(7).nextBytes(baseBytes);
        Files.write(basePath, baseBytes);
        cow = dir.resolve("cow.qcow2");
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, CHUNK, OptionalLong.empty(), false));
        }
    }

    private static byte[] data(long chunk) {
        byte[] d = new byte[CHUNK];
        Arrays.fill(d, (byte) (chunk * 7 + 1));
        return d;
    }

    private static void write(CowSpace space, FileCowStore store, long chunk) throws Exception {
        long place = space.place(chunk).place();
        store.write(ByteBuffer.wrap(data(chunk)), place);
        store.flush();
        space.commit(List.of(new CowSpace.Mapping(chunk, place)));
    }

    private Qemu.Result check() throws Exception {
        return Qemu.run("qemu-img", "check", "-f", "qcow2", cow.toString());
    }

    private long leakedByQemu() throws Exception {
        Qemu.Result r = check();
        assertEquals(3, r.exit(), "leaks expected: " + r.out());
        Matcher m = Pattern.compile("(\\d+) leaked clusters were found").matcher(r.out());
        assertTrue(m.find(), r.out());
        return Long.parseLong(m.group(1));
    }

    /** A daemon that committed 0..3, unmapped 2, and had 20..35 and 70 placed (granted) when the power went. */
    private void crashWithPlacesOutstanding() throws Exception {
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            FileCowStore store = FileCowStore.open(cow, false, null);
            CowSpace space = format.open(store, base);
            for (long c = 0; c < 4; c++) {
                write(space, store, c);
            }
            space.commit(List.of(new CowSpace.Mapping(2, CowSpace.UNMAPPED)));
            for (long c = 20; c < 36; c++) {
                space.place(c);
            }
            long p70 = space.place(70).place();
            store.write(ByteBuffer.wrap(data(70)), p70); // filled, never committed
            store.close(); // the power went: no close of the space
        }
    }

    @Test
    void theNextDaemonFreesExactlyWhatACrashLeakedAndKeepsItsOwnPlaces() throws Exception {
        crashWithPlacesOutstanding();
        long leaked = leakedByQemu();
        assertEquals(16 + 1 + 1, leaked, "20..35, 70 and the unmapped 2");
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            // placed by this daemon before the device was created: not a leak
            long p40 = space.place(40).place();
            long usedBefore = space.usage().usedChunks();
            assertEquals(leaked, space.reclaimLeaks());
            assertEquals(usedBefore - leaked, space.usage().usedChunks());
            assertEquals(0, space.reclaimLeaks(), "nothing more the second time");
            store.write(ByteBuffer.wrap(data(40)), p40);
            store.flush();
            space.commit(List.of(new CowSpace.Mapping(40, p40)));
            for (long c : new long[] {0, 1, 3, 40}) {
                ByteBuffer got = ByteBuffer.allocate(CHUNK);
                store.read(got, space.committedPlace(c));
                assertArrayEquals(data(c), got.array(), "chunk " + c);
            }
            // the freed places are handed out again
            for (long c = 20; c < 36; c++) {
                write(space, store, c);
            }
        }
        Qemu.Result r = check();
        assertEquals(0, r.exit(), r.out());
    }

    @Test
    void anImageWithBitmapsIsLeftAlone() throws Exception {
        crashWithPlacesOutstanding();
        long leaked = leakedByQemu();
        Qemu.run("qemu-img", "bitmap", "--add", cow.toString(), "b1").ok();
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            assertEquals(0, space.reclaimLeaks());
        }
        assertTrue(leakedByQemu() >= leaked, "the leaks stay for qemu-img check -r leaks");
    }
}
