/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.await;
import static org.dmcow.daemon.Waits.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.format.CheckReport;
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
 * The whole daemon over a real native space (fake devices, kernel double) taking the kernel's
 * DISCARDs: the chunk is unmapped durably, its place freed only after a table reload drained it
 * (the double refuses a MAP there before), FORGET follows the reload, and a write after the discard
 * is placed anew, also when its FAULT replaced the DISCARD; a restart redoes what the replay says.
 */
class NativeDiscardTest {
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
    void formatSpace() throws Exception {
        cow = dir.resolve("vm1.cow");
        new DaemonHarness(KIT, new KernelDouble(), dir).kernel.close(); // writes the base
        try (FileBaseImage b = FileBaseImage.open(dir.resolve("base.img"))) {
            new NativeFormat().create(new CowFormat.CreateRequest(cow, b, CHUNK, OptionalLong.empty(), false));
        }
    }

    private String config(String reloadDelay) {
        return "dmcow.commit-interval = 1h\ndmcow.reload.max-delay = " + reloadDelay + "\ndmcow.volumes.vm1 { base = \""
                + dir.resolve("base.img") + "\", cow = \"" + cow + "\", format = native }\n";
    }

    private DaemonHarness daemon(KernelDouble k, String reloadDelay, int reloadMappings) throws Exception {
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.realSpaces = new FormatSpaceOpener(h.devices);
        return h.start(config(reloadDelay) + "dmcow.reload.max-mappings = " + reloadMappings + "\n");
    }

    private DaemonHarness daemon(KernelDouble k, String reloadDelay) throws Exception {
        return daemon(k, reloadDelay, 1024);
    }

    private static void writeAndCommit(KernelDouble k, int vol, long from, long to) throws Exception {
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (long c = from; c < to; c++) {
            writes.add(k.write(vol, c, false));
        }
        Waits.awaitAll(writes);
        await(k.flush(vol));
    }

    private CowSpace.SpaceUsage usage(DaemonHarness h) {
        var s = h.status("vm1");
        return new CowSpace.SpaceUsage(s.cowUsedChunks(), s.cowFreeChunks(), s.chunksCommitted());
    }

    @Test
    void discardedChunksAreUnmappedAndTheirPlacesFreedOnlyAfterAReload() throws Exception {
        Map<Long, Long> placesBefore;
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = daemon(k, "100ms");
            int vol = h.addVolume("vm1");
            writeAndCommit(k, vol, 0, 10);
            KernelDouble.Vol v = k.volume(vol);
            eventually("all forgotten", () -> v.forgotten.size() == 10);
            assertTrue(h.devices.devices.get("vm1").live.stream().allMatch(t -> t.params().contains("discard_unmap")),
                    h.devices.devices.get("vm1").live.toString());
            long usedBefore = usage(h).usedChunks();
            placesBefore = Map.copyOf(v.place);

            assertTrue(k.discard(vol, 2));
            assertTrue(k.discard(vol, 3));
            assertTrue(k.discard(vol, 4));
            // written again at once: its home place is still draining, so it must go elsewhere
            await(k.write(vol, 3, false));
            eventually("discarded chunks forgotten", () -> {
                synchronized (k) {
                    return v.discarded.isEmpty();
                }
            });
            eventually("places freed", () -> usage(h).usedChunks() == usedBefore - 2);
            assertNotEquals(placesBefore.get(3L), v.place.get(3L));
            await(k.flush(vol));

            // written again after the reload: the freed home place may be used
            await(k.write(vol, 2, false));
            await(k.flush(vol));
            assertEquals(placesBefore.get(2L), v.place.get(2L));
            assertEquals(List.of(), k.rejections);
            h.shutdown();
        }
        assertEquals(List.of(), check().findings());
        try (FileCowStore s = FileCowStore.openReadOnly(cow); FileBaseImage b = FileBaseImage.open(dir.resolve(
                "base.img"))) {
            CowSpace view = new NativeFormat().view(s, b);
            assertEquals(-1, view.committedPlace(4));
            assertEquals(placesBefore.get(2L) * 512, view.committedPlace(2));
            assertNotEquals(placesBefore.get(3L) * 512, view.committedPlace(3));
            assertEquals(9, view.usage().mappings());
        }
    }

    @Test
    void aFaultThatReplacedTheDiscardIsTakenAsIt() throws Exception {
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = daemon(k, "100ms");
            int vol = h.addVolume("vm1");
            writeAndCommit(k, vol, 0, 4);
            KernelDouble.Vol v = k.volume(vol);
            long old1 = v.place.get(1L);
            long old2 = v.place.get(2L);
            eventually("all forgotten", () -> v.forgotten.size() == 4);
            // the module replaces an unread DISCARD with the FAULT of a write to the chunk
            CompletableFuture<Void> rewrite1;
            CompletableFuture<Void> rewrite2;
            synchronized (k) {
                assertTrue(k.discard(vol, 1, false)); // forgotten: the daemon no longer tracks it
                assertTrue(k.discard(vol, 2, false));
                rewrite1 = k.write(vol, 1, false);
                rewrite2 = k.write(vol, 2, false);
            }
            await(rewrite1);
            await(rewrite2);
            await(k.flush(vol));
            assertNotEquals(old1, v.place.get(1L));
            assertNotEquals(old2, v.place.get(2L));
            assertEquals(List.of(), k.rejections);
            h.shutdown();
        }
        assertEquals(List.of(), check().findings());
    }

    @Test
    void aRestartRedoesTheUnmapTheReplaySends() throws Exception {
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness first = daemon(k, "1h"); // no reload: the discarded chunk is never forgotten
            int vol = first.addVolume("vm1");
            writeAndCommit(k, vol, 0, 4);
            KernelDouble.Vol v = k.volume(vol);
            long old1 = v.place.get(1L);
            assertTrue(k.discard(vol, 1));
            eventually("unmap durable", () -> first.status("vm1").chunksCommitted() == 3);
            k.failRead = new java.io.IOException("injected: the daemon dies");
            assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> first.stream.toCompletableFuture().get(20, java.util.concurrent.TimeUnit.SECONDS));
            KIT.stop(first.volumeSet);
            await(first.replies.complete().toCompletableFuture());
            assertTrue(v.discarded.contains(1L));

            DaemonHarness second = new DaemonHarness(KIT, k, dir);
            second.devices.devices.putAll(first.devices.devices); // the device outlives the daemon
            second.realSpaces = new FormatSpaceOpener(second.devices);
            k.reattach(); // DISCARD of chunk 1 again
            second.start(config("100ms"));
            eventually("chunk 1 forgotten", () -> {
                synchronized (k) {
                    return !v.discarded.contains(1L);
                }
            });
            await(k.write(vol, 1, false));
            await(k.flush(vol));
            // the activation's swap drained the old place: it may be (and, home slot, is) used again
            assertEquals(old1, v.place.get(1L));
            assertEquals(List.of(), k.rejections);
            second.shutdown();
        }
        assertEquals(List.of(), check().findings());
    }

    @Test
    void aChunkDiscardedBeforeAStopIsForgottenByTheLastReload() throws Exception {
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = daemon(k, "1h", 4); // a reload after 4 committed chunks, no other
            int vol = h.addVolume("vm1");
            writeAndCommit(k, vol, 0, 4);
            KernelDouble.Vol v = k.volume(vol);
            eventually("all forgotten", () -> v.forgotten.size() == 4);
            assertTrue(k.discard(vol, 1));
            eventually("unmap durable", () -> h.status("vm1").chunksCommitted() == 3);
            h.shutdown(); // nothing committed waits: only the unmapped chunk makes its last reload due
            assertEquals(java.util.Set.of(), v.discarded);
            assertEquals(List.of(), k.rejections);
        }
        assertEquals(List.of(), check().findings());
    }

    private CheckReport check() throws Exception {
        try (FileCowStore s = FileCowStore.openReadOnly(cow);
                FileBaseImage b = FileBaseImage.open(dir.resolve("base.img"))) {
            return new NativeFormat().check(s, Optional.of(b));
        }
    }
}
