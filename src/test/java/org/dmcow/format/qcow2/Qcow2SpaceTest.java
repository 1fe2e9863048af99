/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
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

/** Reservations across a daemon restart (adopt), release, accounting, and the offline checker. */
class Qcow2SpaceTest {
    private static final int CHUNK = 4096;

    @TempDir
    Path dir;
    private Path basePath;
    private Path cow;
    private final Qcow2Format format = new Qcow2Format();

    @BeforeEach
    void create() throws Exception {
        basePath = dir.resolve("base.raw");
        byte[] bytes = new byte[1024 * 1024];
        new Random(4).nextBytes(bytes);
        Files.write(basePath, bytes);
        cow = dir.resolve("cow.qcow2");
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, CHUNK, OptionalLong.empty(), false));
        }
    }

    private CheckReport check() throws Exception {
        try (FileBaseImage base = FileBaseImage.open(basePath); FileCowStore store = FileCowStore.openReadOnly(cow)) {
            return format.check(store, Optional.of(base));
        }
    }

    @Test
    void aGrantAdoptedAfterARestartIsCommittedWithoutLeak() throws Exception {
        long granted;
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            FileCowStore store = FileCowStore.open(cow, false, null);
            CowSpace first = format.open(store, base);
            granted = first.place(7).place();
            first.place(8);
            store.close(); // the daemon dies: no close of the space, two grants outstanding
            assertEquals(3, Qemu.run("qemu-img", "check", cow.toString()).exit(), "the grants are leaks");
            assertTrue(check().findings().stream().anyMatch(f -> f.code().equals("leaked-clusters")));

            try (FileCowStore store2 = FileCowStore.open(cow, false, null);
                    CowSpace second = format.open(store2, base)) {
                second.adopt(7, granted);
                FormatException twice = assertThrows(FormatException.class, () -> second.adopt(9, granted));
                assertTrue(twice.getMessage().contains("in use"), twice.getMessage());
                FormatException header = assertThrows(FormatException.class, () -> second.adopt(9, 0));
                assertTrue(header.getMessage().contains("data area"), header.getMessage());
                CowSpace.Placement fresh = second.place(10);
                assertNotEquals(granted, fresh.place());
                second.commit(List.of(new CowSpace.Mapping(7, granted), new CowSpace.Mapping(10, fresh.place())));
                assertEquals(granted, second.committedPlace(7));
                FormatException mapped = assertThrows(FormatException.class, () -> second.adopt(11, granted));
                assertTrue(mapped.getMessage().contains("in use"), mapped.getMessage());
            }
        }
        // chunk 8's grant was never adopted: still a leak, never corruption
        assertEquals(3, Qemu.run("qemu-img", "check", cow.toString()).exit());
        Qemu.run("qemu-img", "check", "-r", "leaks", cow.toString()).ok();
        assertTrue(check().clean(), check().toString());
    }

    @Test
    void aGrantOutstandingAtCloseIsAdoptedAfterReopen() throws Exception {
        long granted;
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace first = format.open(store, base)) {
                granted = first.place(12).place();
            }
            // a graceful restart with the grant still held by the kernel: it stays counted
            assertEquals(3, Qemu.run("qemu-img", "check", cow.toString()).exit());
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace second = format.open(store, base)) {
                CowSpace.SpaceUsage before = second.usage();
                second.adopt(12, granted);
                assertEquals(before, second.usage(), "the grant was counted already");
                assertNotEquals(granted, second.place(13).place());
                second.release(13);
                second.commit(List.of(new CowSpace.Mapping(12, granted)));
            }
        }
        assertEquals(0, Qemu.run("qemu-img", "check", cow.toString()).exit());
        assertTrue(check().clean(), check().toString());
    }

    @Test
    void releasedPlacesAreReusedAndCommitsMustMatchPlacements() throws Exception {
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            CowSpace.SpaceUsage empty = space.usage();
            long p = space.place(3).place();
            assertEquals(empty.usedChunks() + 1, space.usage().usedChunks());
            space.release(3);
            assertEquals(1, space.usage().freeChunks());
            assertEquals(p, space.place(4).place(), "a released cluster is handed out again first");
            FormatException wrong = assertThrows(FormatException.class,
                    () -> space.commit(List.of(new CowSpace.Mapping(5, p))));
            assertTrue(wrong.getMessage().contains("not placed"), wrong.getMessage());
            FormatException again = assertThrows(FormatException.class, () -> space.place(4));
            assertTrue(again.getMessage().contains("reserved"), again.getMessage());
            space.commit(List.of(new CowSpace.Mapping(4, p)));
            // the data cluster and the L2 table the commit added
            assertEquals(new CowSpace.SpaceUsage(empty.usedChunks() + 2, 0, 1), space.usage());
            assertThrows(FormatException.class, () -> space.place(4));
        }
        assertEquals(0, Qemu.run("qemu-img", "check", cow.toString()).exit());
        assertTrue(check().clean(), check().toString());
    }

    @Test
    void checkerAgreesWithQemuOnCorruption() throws Exception {
        long place;
        try (FileBaseImage base = FileBaseImage.open(basePath);
                FileCowStore store = FileCowStore.open(cow, false, null);
                CowSpace space = format.open(store, base)) {
            place = space.place(2).place();
            space.commit(List.of(new CowSpace.Mapping(2, place)));
        }
        assertTrue(check().clean());
        // zero the data cluster's refcount: QEMU calls this corruption (exit 2), and so do we
        byte[] img = Files.readAllBytes(cow);
        ByteBuffer b = ByteBuffer.wrap(img);
        long table = b.getLong(48);
        long block0 = b.getLong((int) table);
        b.putShort((int) (block0 + 2 * (place / CHUNK)), (short) 0);
        Files.write(cow, img);
        assertEquals(2, Qemu.run("qemu-img", "check", cow.toString()).exit());
        CheckReport report = check();
        List<String> codes = report.findings().stream().map(CheckReport.Finding::code).toList();
        assertEquals("refcount-too-low", codes.get(0), report.toString());
        assertTrue(report.findings().get(0).message().contains("offset " + place), report.toString());
        assertTrue(!codes.contains("leaked-clusters"), report.toString());
        try (FileBaseImage base = FileBaseImage.open(basePath); FileCowStore store = FileCowStore.openReadOnly(cow)) {
            assertEquals(1, format.info(store).mappings());
        }
    }
}
