/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.await;
import static org.dmcow.daemon.Waits.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.nativeformat.NativeFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's grants over a real native space and the kernel double, which takes a first write to
 * a free granted slot with no FAULT and refuses any GRANT or MAP that would hand a place out twice
 * (a place a chunk holds, or a free slot of a live grant): a sequential writer meets grants, a
 * restarted daemon adopts the live grants from the replay, and the space holds every chunk once.
 */
class GrantTest {
    static final ActorTestKit KIT = ActorTestKit.create();
    private static final long CHUNK = DaemonHarness.CHUNK_SECTORS * 512L;

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @TempDir
    Path dir;
    private Path cow;

    @BeforeEach
    void writeBase() throws Exception {
        cow = dir.resolve("vm1.cow");
        new DaemonHarness(KIT, new KernelDouble(), dir).kernel.close(); // writes the base
    }

    /** A native space for the whole volume, or of {@code bytes}: then no chunk has a home slot. */
    private void formatSpace(OptionalLong bytes) throws Exception {
        try (FileBaseImage b = FileBaseImage.open(dir.resolve("base.img"))) {
            new NativeFormat().create(new CowFormat.CreateRequest(cow, b, CHUNK, bytes, false));
        }
    }

    private String config(int window) {
        return "dmcow.commit-interval = 1h\ndmcow.reload.max-delay = 100ms\ndmcow.grant-window = " + window
                + "\ndmcow.volumes.vm1 { base = \"" + dir.resolve("base.img") + "\", cow = \"" + cow
                + "\", format = native }\n";
    }

    private DaemonHarness daemon(KernelDouble k, int window) throws Exception {
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.realSpaces = new FormatSpaceOpener(h.devices);
        return h.start(config(window));
    }

    /** Writes chunks {@code from..to-1} one after the other, then flushes. */
    private static void writeInOrder(KernelDouble k, int vol, long from, long to) throws Exception {
        for (long c = from; c < to; c++) {
            await(k.write(vol, c, c % 3 == 0));
        }
        await(k.flush(vol));
    }

    @Test
    void aSequentialWriterMeetsGrantsAndEveryChunkIsCommittedOnce() throws Exception {
        formatSpace(OptionalLong.empty());
        int chunks = 256;
        KernelDouble.Vol v;
        try (KernelDouble k = new KernelDouble()) {
            // the first writes come before the daemon starts, in the replay it reads
            int vol = k.addVolume("vm1", DaemonHarness.BASE_SECTORS, DaemonHarness.CHUNK_SECTORS);
            CompletableFuture<Void> first = k.write(vol, 0, false);
            CompletableFuture<Void> second = k.write(vol, 1, false);
            DaemonHarness h = daemon(k, 64);
            await(first);
            await(second);
            writeInOrder(k, vol, 2, chunks);
            v = k.volume(vol);
            assertTrue(v.faultSeq <= 8, v.faultSeq + " of " + chunks + " first writes faulted");
            assertTrue(v.grants.slotsTaken >= chunks - 8, v.grants.slotsTaken + " granted fills");
            eventually("committed", () -> h.status("vm1").chunksCommitted() == chunks);
            assertEquals(List.of(), k.rejections);
            h.shutdown();
        }
        assertEachChunkOnce(chunks);
    }

    @Test
    void withoutAGrantWindowEveryFirstWriteFaults() throws Exception {
        formatSpace(OptionalLong.empty());
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = daemon(k, 0);
            int vol = h.addVolume("vm1");
            writeInOrder(k, vol, 0, 40);
            KernelDouble.Vol v = k.volume(vol);
            assertEquals(40, v.faultSeq);
            assertEquals(0, v.grants.granted);
            assertEquals(List.of(), k.rejections);
            h.shutdown();
        }
        assertEachChunkOnce(40);
    }

    @Test
    void aRestartedDaemonAdoptsTheLiveGrantsAndHandsNoSlotOutTwice() throws Exception {
        // half the volume: new chunks go to the middle of the longest free run, over window 0's
        // unwritten slots unless the new daemon adopted them
        formatSpace(OptionalLong.of(8454144L + 160 * CHUNK));
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness first = daemon(k, 64);
            int vol = first.addVolume("vm1");
            writeInOrder(k, vol, 0, 4); // chunk 0 faults; 1..3 take slots of window 0's grant
            KernelDouble.Vol v = k.volume(vol);
            synchronized (k) {
                assertTrue(v.grants.live.size() >= 1, "no grant live: " + v.grants.live);
            }
            await(k.write(vol, 5, false)); // filled in its slot, not committed: the replay's FILLED
            k.failRead = new java.io.IOException("injected: the daemon dies");
            assertThrows(ExecutionException.class, () -> first.stream.toCompletableFuture().get(20, TimeUnit.SECONDS));
            KIT.stop(first.volumeSet);
            await(first.replies.complete().toCompletableFuture());

            // a write while no daemon runs: its fault waits for the next one's space to open
            CompletableFuture<Void> early = k.write(vol, 150, false);

            DaemonHarness second = new DaemonHarness(KIT, k, dir);
            second.devices.devices.putAll(first.devices.devices); // the device outlives the daemon
            second.realSpaces = new FormatSpaceOpener(second.devices);
            k.reattach(); // GRANT_LIVE, then FILLED of chunk 5 naming its grant, then chunk 150's FAULT
            second.start(config(64));
            await(early);
            // new chunks elsewhere fault and are placed while window 0's slots are still granted
            for (long c : new long[] {200, 201, 130, 6, 7, 64, 65, 4}) {
                await(k.write(vol, c, false));
            }
            await(k.flush(vol));
            eventually("committed", () -> second.status("vm1").chunksCommitted() == 14);
            assertEquals(List.of(), k.rejections);
            second.shutdown();
        }
        assertEachChunkOnce(8, 200, 201, 130, 64, 65, 150);
    }

    /** The space's check is clean and chunks {@code 0..n-1} and {@code more} each have a place of their own. */
    private void assertEachChunkOnce(int n, long... more) throws Exception {
        try (FileCowStore s = FileCowStore.openReadOnly(cow);
                FileBaseImage b = FileBaseImage.open(dir.resolve("base.img"))) {
            assertEquals(List.of(), new NativeFormat().check(s, Optional.of(b)).findings());
            CowSpace view = new NativeFormat().view(s, b);
            Set<Long> places = new HashSet<>();
            for (long c = 0; c < n; c++) {
                assertTrue(places.add(view.committedPlace(c)), "chunk " + c + " shares its place");
            }
            for (long c : more) {
                assertTrue(places.add(view.committedPlace(c)), "chunk " + c + " shares its place");
            }
            assertTrue(!places.contains(-1L), "a chunk is not committed: " + places);
            assertEquals(n + more.length, view.usage().mappings());
        }
    }
}
