/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.await;
import static org.dmcow.daemon.Waits.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.dm.Tables;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A full CoW space under its no-space policy, growth while serving, and the warnings of use. */
class SpaceFullTest {
    static final ActorTestKit KIT = ActorTestKit.create();
    private static final long CHUNK = 64 << 10;

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @TempDir
    Path dir;

    private final List<KernelDouble> kernels = new ArrayList<>();

    @AfterEach
    void closeKernels() {
        kernels.forEach(KernelDouble::close);
    }

    /** A daemon whose volume vm1 has a space of {@code chunks} chunks, with {@code settings}. */
    private DaemonHarness daemon(long chunks, String settings, String... names) throws Exception {
        KernelDouble k = new KernelDouble();
        kernels.add(k);
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.spaces.put("vm1", new MemoryCowSpace.Durable(CHUNK, DaemonHarness.BASE_SIZE, chunks));
        return h.start(h.volumes("dmcow.commit-interval = 50ms\n" + settings, names));
    }

    private static GrowResult grow(DaemonHarness h, String name, long size, long by) {
        TestProbe<GrowResult> p = KIT.createTestProbe();
        h.volumeSet.tell(new VolumeSet.Grow(name, size, by, p.ref()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    @Test
    void aFullSpaceQueuesNewChunksWhileWrittenOnesAndOtherVolumesGoOnUntilItGrows() throws Exception {
        DaemonHarness h = daemon(4, "dmcow.no-space = queue", "vm1", "vm2");
        KernelDouble k = h.kernel;
        int vol = h.addVolume("vm1");
        int other = h.addVolume("vm2");
        for (long c = 0; c < 4; c++) {
            await(k.write(vol, c, false));
        }
        CompletableFuture<Void> waiting = k.write(vol, 10, false);
        eventually("full", () -> h.status("vm1").state() == VolumeStatus.State.FULL);
        assertTrue(h.status("vm1").reason().contains("all 4 chunks used"), h.status("vm1").reason());
        Thread.sleep(500); // ten ticks: the write still waits, and the state does not flap
        assertFalse(waiting.isDone());
        assertEquals(List.of("vm1 full"), h.fullEvents);
        await(k.write(vol, 2, false)); // a written chunk
        await(k.write(other, 10, false)); // another volume
        GrowResult grown = grow(h, "vm1", 0, 4 * CHUNK);
        assertNull(grown.error());
        assertEquals(4 * CHUNK, grown.bytesBefore());
        assertEquals(8 * CHUNK, grown.bytes());
        await(waiting);
        eventually("serving", () -> h.status("vm1").state() == VolumeStatus.State.SERVING);
        assertEquals(List.of("vm1 full", "vm1 has room"), h.fullEvents);
        h.shutdown();
    }

    /** A full space whose 4 chunks are written and committed, and a write to a 5th that waits for room. */
    private CompletableFuture<Void> fillAndWait(DaemonHarness h, int vol) throws Exception {
        for (long c = 0; c < 4; c++) {
            await(h.kernel.write(vol, c, false));
        }
        CompletableFuture<Void> waiting = h.kernel.write(vol, 10, false);
        eventually("full", () -> h.status("vm1").state() == VolumeStatus.State.FULL);
        return waiting;
    }

    @Test
    void aFullSpaceReloadsItsTableWhileAWriteWaitsForRoom() throws Exception {
        // the delay, not the count, makes the reload due: after the space is full
        DaemonHarness h = daemon(4, "dmcow.no-space = queue\ndmcow.reload.max-mappings = 1000\n"
                + "dmcow.reload.max-delay = 1s", "vm1");
        int vol = h.addVolume("vm1");
        CompletableFuture<Void> waiting = fillAndWait(h, vol);
        eventually("the 4 written chunks reloaded into mapped segments and forgotten",
                () -> h.kernel.volume(vol).forgotten.size() == 4);
        assertFalse(waiting.isDone());
        assertTrue(h.devices.devices.get("vm1").live.stream().anyMatch(Tables::isMapped));
        assertNull(grow(h, "vm1", 0, 4 * CHUNK).error());
        await(waiting);
        h.shutdown();
    }

    @Test
    void aFullSpaceStopsAfterItsLastTableReloadWithAWriteWaiting() throws Exception {
        DaemonHarness h = daemon(4, "dmcow.no-space = queue\ndmcow.reload.max-mappings = 1000\n"
                + "dmcow.reload.max-delay = 1h", "vm1");
        int vol = h.addVolume("vm1");
        CompletableFuture<Void> waiting = fillAndWait(h, vol);
        assertTrue(h.kernel.volume(vol).forgotten.isEmpty());
        h.shutdown();
        assertEquals(4, h.kernel.volume(vol).forgotten.size(), "the last reload mapped the committed chunks");
        assertFalse(waiting.isDone(), "the write waits in the kernel for the next daemon");
    }

    @Test
    void noSpaceErrorFailsWaitingWritesWithEnospcAfterTheTimeoutAndNewOnesAtOnce() throws Exception {
        DaemonHarness h = daemon(2, "dmcow.no-space-timeout = 400ms", "vm1");
        KernelDouble k = h.kernel;
        int vol = h.addVolume("vm1");
        await(k.write(vol, 0, false));
        await(k.write(vol, 1, false));
        long start = System.nanoTime();
        CompletableFuture<Void> waiting = k.write(vol, 5, false);
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> waiting.get(20, TimeUnit.SECONDS));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(e.getCause().getMessage().contains("errno " + SpaceWatch.ENOSPC), e.getCause().getMessage());
        assertTrue(waited >= 400, "failed after " + waited + " ms, before the timeout");
        start = System.nanoTime();
        CompletableFuture<Void> next = k.write(vol, 6, false);
        org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> next.get(20, TimeUnit.SECONDS));
        waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waited < 400, "a new chunk of a space full past its timeout waited " + waited + " ms");
        assertTrue(h.status("vm1").reason().contains("fail with ENOSPC"), h.status("vm1").reason());
        await(k.write(vol, 1, false)); // written chunks keep working
        assertNull(grow(h, "vm1", 3 * CHUNK, 0).error());
        await(k.write(vol, 6, false));
        eventually("serving", () -> h.status("vm1").state() == VolumeStatus.State.SERVING);
        assertEquals(2, h.spaces.get("vm1").committedCopy().keySet().stream().filter(c -> c < 2).count());
        h.shutdown();
    }

    @Test
    void noRoomOnTheHostFilesystemIsFullUntilThereIsRoomAgain() throws Exception {
        DaemonHarness h = daemon(64, "dmcow.no-space = queue", "vm1");
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        int vol = h.addVolume("vm1");
        await(h.kernel.write(vol, 0, false));
        d.room = CHUNK - 1;
        CompletableFuture<Void> waiting = h.kernel.write(vol, 1, false);
        eventually("full", () -> h.status("vm1").state() == VolumeStatus.State.FULL);
        assertTrue(h.status("vm1").reason().contains("filesystem holding"), h.status("vm1").reason());
        Thread.sleep(200);
        assertFalse(waiting.isDone());
        d.room = Long.MAX_VALUE; // the operator freed room on the host
        await(waiting);
        eventually("serving", () -> h.status("vm1").state() == VolumeStatus.State.SERVING);
        h.shutdown();
    }

    @Test
    void useWarnsInStatusAsItPassesALevel() throws Exception {
        DaemonHarness h = daemon(10, "dmcow.space-warnings = [50, 80]", "vm1");
        int vol = h.addVolume("vm1");
        for (long c = 0; c < 4; c++) {
            await(h.kernel.write(vol, c, false));
        }
        eventually("committed", () -> h.status("vm1").chunksCommitted() == 4);
        assertNull(h.status("vm1").reason());
        await(h.kernel.write(vol, 4, false));
        await(h.kernel.write(vol, 5, false));
        eventually("warned", () -> h.status("vm1").reason() != null);
        assertEquals(VolumeStatus.State.SERVING, h.status("vm1").state());
        assertTrue(h.status("vm1").reason().contains("60% used, past the warning level of 50%"),
                h.status("vm1").reason());
        h.shutdown();
    }

    @Test
    void autoextendGrowsTheSpaceAsItFillsUpToTheWholeVolume() throws Exception {
        DaemonHarness h = daemon(4, "dmcow.no-space = queue\ndmcow.autoextend { threshold = 50, percent = 100 }", "vm1");
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        int vol = h.addVolume("vm1");
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (long c = 0; c < 40; c++) {
            writes.add(h.kernel.write(vol, c, false));
        }
        await(CompletableFuture.allOf(writes.toArray(new CompletableFuture[0])));
        assertTrue(d.capacityChunks >= 40, "capacity " + d.capacityChunks);
        // past the whole volume (256 chunks) it grows no more
        for (long c = 40; c < DaemonHarness.CHUNKS; c++) {
            writes.add(h.kernel.write(vol, c, false));
        }
        await(CompletableFuture.allOf(writes.toArray(new CompletableFuture[0])));
        assertEquals(DaemonHarness.CHUNKS, d.capacityChunks);
        h.shutdown();
    }

    @Test
    void growIsRefusedForAnUnknownVolumeAndToShrink() throws Exception {
        DaemonHarness h = daemon(4, "", "vm1");
        h.addVolume("vm1");
        eventually("serving", () -> h.status("vm1").state() == VolumeStatus.State.SERVING);
        assertEquals("no volume vm9 is served", grow(h, "vm9", 0, CHUNK).error());
        String shrink = grow(h, "vm1", 2 * CHUNK, 0).error();
        assertTrue(shrink.contains("cannot shrink"), shrink);
        assertEquals(4, h.status("vm1").cowFreeChunks());
        h.shutdown();
    }
}
