/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.await;
import static org.dmcow.daemon.Waits.awaitAll;
import static org.dmcow.daemon.Waits.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.dm.Tables;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.Protocol;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's actors and streams against the in-JVM kernel double. */
class VolumeTest {
    static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @TempDir
    Path dir;

    private final List<KernelDouble> kernels = new ArrayList<>();

    private KernelDouble kernel() {
        KernelDouble k = new KernelDouble();
        kernels.add(k);
        return k;
    }

    /** A failed test leaves its stream reading: end it so the next test and the kit stop cleanly. */
    @AfterEach
    void closeKernels() {
        kernels.forEach(KernelDouble::close);
    }

    private static List<CompletableFuture<Void>> writes(KernelDouble k, int vol, long from, long to) {
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (long c = from; c < to; c++) {
            fs.add(k.write(vol, c, false));
        }
        return fs;
    }

    /** Every committed chunk in the durable space sits where the kernel was told; places are unique. */
    private static void assertConsistent(KernelDouble k, int vol, MemoryCowSpace.Durable d) {
        KernelDouble.Vol v = k.volume(vol);
        Map<Long, Long> committed = d.committedCopy();
        synchronized (k) {
            for (long c : v.committed) {
                assertEquals(v.place.get(c) * 512, committed.get(c), "chunk " + c);
            }
        }
        assertEquals(committed.size(), new HashSet<>(committed.values()).size(), "a place used twice");
        assertEquals(0, k.rejected.get(), () -> "the kernel refused: " + k.rejections);
    }

    @Test
    void faultsAreMappedFilledAndCommittedOnFlush() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"));
        int vol = h.addVolume("vm1");
        awaitAll(writes(k, vol, 0, 100));
        CompletableFuture<Void> fullWrite = k.write(vol, 200, true);
        await(fullWrite);
        await(k.flush(vol));
        KernelDouble.Vol v = k.volume(vol);
        assertEquals(101, v.committed.size());
        assertEquals(Protocol.FILL_NONE, v.fillOf.get(200L));
        assertEquals(Protocol.FILL_COPY, v.fillOf.get(0L));
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        assertEquals(101, d.committedCopy().size());
        // a flush's fills are durable already (the kernel flushed the CoW device): no second flush
        assertEquals(0, d.flushes.get());
        assertConsistent(k, vol, d);
        // neighbours stay together: the sequential writes need one mapped segment per run
        assertTrue(Runs_count(d) <= 2, "runs: " + Runs_count(d));
        VolumeStatus s = h.status("vm1");
        assertEquals(VolumeStatus.State.SERVING, s.state());
        assertEquals(101, s.chunksCommitted());
        h.shutdown();
    }

    private static long Runs_count(MemoryCowSpace.Durable d) {
        org.dmcow.format.Runs runs = new org.dmcow.format.Runs(d.chunkSize, r -> { });
        d.committedCopy().forEach(runs::mapping);
        return runs.finish();
    }

    @Test
    void periodicCommitFlushesDataBeforeMetadata() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 100ms", "vm1"));
        int vol = h.addVolume("vm1");
        awaitAll(writes(k, vol, 10, 20));
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        eventually("ten chunks committed without a flush", () -> k.volume(vol).committed.size() == 10);
        List<String> events = new ArrayList<>(d.events);
        assertEquals("flush", events.get(0), events.toString());
        assertTrue(events.get(1).startsWith("commit"), events.toString());
        assertConsistent(k, vol, d);
        h.shutdown();
    }

    @Test
    void failingMetadataDegradesOneVolumeAndRecovers() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 100ms", "bad", "good"));
        int bad = h.addVolume("bad");
        int good = h.addVolume("good");
        MemoryCowSpace.Durable d = h.spaces.get("bad");
        d.failCommits = "injected: metadata write failed (EIO)";
        awaitAll(writes(k, bad, 0, 5));
        CompletableFuture<Void> badFlush = k.flush(bad);
        eventually("degraded", () -> h.status("bad").state() == VolumeStatus.State.DEGRADED);
        assertTrue(h.status("bad").reason().contains("metadata write failed"), h.status("bad").reason());
        // the other volume serves meanwhile
        awaitAll(writes(k, good, 0, 5));
        await(k.flush(good));
        assertEquals(VolumeStatus.State.SERVING, h.status("good").state());
        assertTrue(!badFlush.isDone(), "a flush must not complete before its mappings are durable");
        d.failCommits = null;
        await(badFlush);
        eventually("serving again", () -> h.status("bad").state() == VolumeStatus.State.SERVING);
        assertConsistent(k, bad, d);
        h.shutdown();
    }

    @Test
    void aKernelTableOfAnotherChunkSizeDegradesTheVolumeUntilARetry() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 100ms", "vm1"));
        k.addVolume("vm1", DaemonHarness.BASE_SECTORS, 2 * DaemonHarness.CHUNK_SECTORS);
        eventually("degraded", () -> h.status("vm1").state() == VolumeStatus.State.DEGRADED);
        String reason = h.status("vm1").reason();
        assertTrue(reason.contains("chunk_sectors " + 2 * DaemonHarness.CHUNK_SECTORS), reason);
        // commit ticks end only their own cause (a full space), not this one
        Thread.sleep(300);
        assertEquals(VolumeStatus.State.DEGRADED, h.status("vm1").state());
        h.shutdown();
    }

    @Test
    void aStuckFsyncBackpressuresTheControlStream() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 50ms\ndmcow.max-in-flight = 16\ndmcow.stream-in-flight = 4",
                "vm1"));
        int vol = h.addVolume("vm1");
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        d.flushGate = new java.util.concurrent.CountDownLatch(1);
        try {
            List<CompletableFuture<Void>> fs = writes(k, vol, 0, 10);
            eventually("a commit stuck in its data flush", () -> d.flushesStarted.get() == 1);
            long before = h.channel.accepted();
            fs.addAll(writes(k, vol, 10, 200));
            // wait until the daemon stops taking messages: its count holds still over half a second
            long last = -1;
            for (int still = 0; still < 5; Thread.sleep(100)) {
                long now = h.channel.accepted();
                still = now == last ? still + 1 : 0;
                last = now;
            }
            // bounded: max-in-flight chunks of its own work, the stream's 4, two reads of 32 messages
            long taken = h.channel.accepted() - before;
            assertTrue(taken <= 16 + 4 + 2 * 32, "taken while stuck: " + taken);
            assertTrue(k.unread() >= 100, "unread kernel messages: " + k.unread());
            d.flushGate.countDown();
            awaitAll(fs);
        } finally {
            d.flushGate.countDown();
        }
        await(k.flush(vol));
        assertEquals(200, k.volume(vol).committed.size());
        assertConsistent(k, vol, d);
        h.shutdown();
    }

    @Test
    void anAllocatorCrashRestartsFromTheDurableSpace() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"));
        int vol = h.addVolume("vm1");
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        awaitAll(writes(k, vol, 0, 20));
        await(k.flush(vol));
        awaitAll(writes(k, vol, 40, 50));
        d.crashPlaces.set(2);
        awaitAll(writes(k, vol, 60, 80));
        await(k.flush(vol));
        assertTrue(d.opens.get() >= 2, "reopened: " + d.opens.get());
        assertEquals(50, k.volume(vol).committed.size());
        assertEquals(50, d.committedCopy().size());
        assertConsistent(k, vol, d);
        h.shutdown();
    }

    @Test
    void aVolumeCrashResumesWithoutLosingOrRepeatingReplies() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        AtomicInteger sent = new AtomicInteger();
        // the 7th and 30th replies crash the volume actor mid-operation, before they reach the kernel
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"), replies -> m -> {
            int n = sent.incrementAndGet();
            if (n == 7 || n == 30) {
                throw new IllegalStateException("injected volume crash at reply " + n);
            }
            return replies.offer(m);
        });
        int vol = h.addVolume("vm1");
        awaitAll(writes(k, vol, 0, 25));
        await(k.flush(vol));
        awaitAll(writes(k, vol, 100, 110));
        await(k.flush(vol));
        assertEquals(35, k.volume(vol).committed.size());
        assertEquals(35, k.maps.get());
        assertConsistent(k, vol, h.spaces.get("vm1"));
        h.shutdown();
    }

    @Test
    void aTableReloaderCrashIsRestartedAndTheReloadRedoneFromCommittedChunks() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.reloading(4, "200ms", "vm1"));
        int vol = h.addVolume("vm1");
        eventually("serving", () -> h.status("vm1").state() == VolumeStatus.State.SERVING);
        int attachesBefore = h.devices.attaches.get();
        h.devices.crashGate = new java.util.concurrent.CountDownLatch(1);
        h.devices.crashLoads.set(1);
        awaitAll(writes(k, vol, 0, 6));
        await(k.flush(vol));
        eventually("the reload stuck in its load", () -> h.devices.crashLoads.get() == 0);
        // the reloader is busy mid-operation: faults and flushes are still answered
        awaitAll(writes(k, vol, 10, 20));
        await(k.flush(vol));
        assertTrue(k.volume(vol).forgotten.isEmpty(), "nothing forgotten before a reload succeeded");
        h.devices.crashGate.countDown();
        eventually("all forgotten after the redone reload", () -> k.volume(vol).forgotten.size() == 16);
        // the restarted reloader rebuilt its layout from the attached devices, not from lost memory
        assertTrue(h.devices.attaches.get() > attachesBefore, "attaches: " + h.devices.attaches.get());
        FakeDevices.Device d = h.devices.devices.get("vm1");
        assertTrue(!d.suspended, "device left suspended");
        assertTrue(Tables.isMapped(d.live.get(0)), d.live.toString());
        assertEquals(16, k.maps.get());
        assertEquals(16, k.volume(vol).committed.size());
        // a second COMMITTED or FORGET for a chunk would be refused by the kernel double
        assertConsistent(k, vol, h.spaces.get("vm1"));
        assertEquals(VolumeStatus.State.SERVING, h.status("vm1").state());
        h.shutdown();
    }

    @Test
    void aBrokenControlStreamEndsTheDaemonAndTheNextOneServesTheReplayOnce() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness first = new DaemonHarness(KIT, k, dir);
        String conf = first.volumes("dmcow.commit-interval = 1h", "vm1");
        first.start(conf);
        int vol = first.addVolume("vm1");
        awaitAll(writes(k, vol, 0, 10));
        await(k.flush(vol));
        // filled, not committed yet: the kernel holds them for the next daemon
        awaitAll(writes(k, vol, 20, 30));
        eventually("fills taken by the volume", () -> k.unread() == 0);
        k.failRead = new java.io.IOException("injected: reading /dev/dm-cow failed (EIO)");
        // the completion Dmcowd turns into exit status 1
        java.util.concurrent.ExecutionException ended = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> first.stream.toCompletableFuture().get(20, TimeUnit.SECONDS));
        assertTrue(ended.getCause().getMessage().contains("injected: reading /dev/dm-cow failed"),
                ended.getCause().toString());
        // faults nobody answers while no daemon runs
        List<CompletableFuture<Void>> waiting = writes(k, vol, 40, 45);
        KIT.stop(first.volumeSet);
        await(first.replies.complete().toCompletableFuture());
        int mapsBefore = k.maps.get();
        assertEquals(20, mapsBefore);

        DaemonHarness second = new DaemonHarness(KIT, k, dir);
        second.spaces.putAll(first.spaces);
        k.reattach();
        second.start(conf);
        awaitAll(waiting);
        await(k.flush(vol));
        assertEquals(25, k.volume(vol).committed.size());
        assertEquals(mapsBefore + 5, k.maps.get(), "only the unanswered faults are mapped again");
        assertEquals(25, first.spaces.get("vm1").committedCopy().size());
        // a second MAP or COMMITTED for a chunk would be refused by the kernel double
        assertConsistent(k, vol, first.spaces.get("vm1"));
        second.shutdown();
    }

    @Test
    void lostAndRepeatedMessagesChangeNothing() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"));
        int vol = h.addVolume("vm1");
        k.repeatMessages = true;
        k.failWrites.set(3);
        awaitAll(writes(k, vol, 0, 30));
        await(k.flush(vol));
        assertEquals(30, k.maps.get());
        assertEquals(30, k.volume(vol).committed.size());
        assertEquals(0, k.failWrites.get());
        assertConsistent(k, vol, h.spaces.get("vm1"));
        h.shutdown();
    }

    @Test
    void aChunkFaultedAgainAfterAFailedFillIsMappedAgain() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"));
        int vol = h.addVolume("vm1");
        k.failFills.add(3L);
        CompletableFuture<Void> failed = k.write(vol, 3, false);
        assertTrue(assertThrows(java.util.concurrent.ExecutionException.class, () -> failed.get(20, TimeUnit.SECONDS))
                .getCause().getMessage().contains("fill of chunk 3 failed"));
        await(k.write(vol, 3, true));
        await(k.flush(vol));
        assertEquals(Protocol.FILL_NONE, k.volume(vol).fillOf.get(3L));
        assertEquals(1, k.volume(vol).committed.size());
        assertConsistent(k, vol, h.spaces.get("vm1"));
        h.shutdown();
    }

    @Test
    void aVolumeCrashWhileHandlingOneMessageOfAReadLosesNoneOfTheOthers() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        AtomicInteger mapsOfChunk3 = new AtomicInteger();
        // answering chunk 3's second fault (its fill failed) crashes the volume in the middle of a read
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"), replies -> m -> {
            if (m instanceof ControlMessage.Map mp && mp.chunk() == 3 && mapsOfChunk3.incrementAndGet() == 2) {
                throw new IllegalStateException("injected volume crash answering chunk 3 again");
            }
            return replies.offer(m);
        });
        int vol = h.addVolume("vm1");
        k.failFills.add(3L);
        CompletableFuture<Void> failed = k.write(vol, 3, false);
        assertThrows(java.util.concurrent.ExecutionException.class, () -> failed.get(20, TimeUnit.SECONDS));
        k.readGate = new java.util.concurrent.CountDownLatch(1);
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        fs.add(k.write(vol, 3, true));
        fs.addAll(writes(k, vol, 10, 20));
        k.readGate.countDown();
        awaitAll(fs);
        await(k.flush(vol));
        assertEquals(3, mapsOfChunk3.get(), "chunk 3 mapped, mapped again (crash), mapped by the restarted volume");
        assertEquals(11, k.volume(vol).committed.size());
        assertConsistent(k, vol, h.spaces.get("vm1"));
        h.shutdown();
    }

    @Test
    void malformedKernelMessagesAreSkipped() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"));
        int vol = h.addVolume("vm1");
        byte[] junk = new byte[Protocol.MSG_SIZE];
        junk[0] = 77;
        k.sendRaw(junk);
        byte[] noVolume = new byte[Protocol.MSG_SIZE];
        noVolume[0] = Protocol.MSG_FAULT;
        k.sendRaw(noVolume);
        awaitAll(writes(k, vol, 0, 5));
        // a fault past the end of the volume is failed, not mapped
        k.volume(vol);
        await(k.flush(vol));
        assertEquals(2, h.channel.malformed());
        assertEquals(5, k.volume(vol).committed.size());
        h.shutdown();
    }

    @Test
    void replayedMappingsAreAdoptedBeforeAnythingIsPlaced() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        String conf = h.volumes("dmcow.commit-interval = 1h", "vm1");
        int vol = h.addVolume("vm1");
        // an earlier daemon placed chunk 5 at slot 0 (filled) and chunk 6 at slot 1 (fill running)
        k.replayMapped(vol, 5, 0, true);
        k.replayMapped(vol, 6, DaemonHarness.CHUNK_SECTORS, false);
        List<CompletableFuture<Void>> fs = writes(k, vol, 0, 3);
        k.replayDone();
        h.start(conf);
        awaitAll(fs);
        k.finishFill(vol, 6);
        await(k.flush(vol));
        KernelDouble.Vol v = k.volume(vol);
        assertEquals(5, v.committed.size());
        assertEquals(0L, v.place.get(5L));
        assertConsistent(k, vol, h.spaces.get("vm1"));
        h.shutdown();
    }

    @Test
    void tableReloadsTurnCommittedChunksLinearAndForgetThem() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.reloading(10, "1h", "vm1"));
        int vol = h.addVolume("vm1");
        eventually("device created", () -> h.devices.devices.containsKey("vm1"));
        awaitAll(writes(k, vol, 0, 12));
        await(k.flush(vol));
        eventually("reloaded", () -> k.volume(vol).forgotten.size() == 12);
        var live = h.devices.devices.get("vm1").live;
        assertTrue(Tables.isMapped(live.get(0)), live.toString());
        assertEquals(12 * DaemonHarness.CHUNK_SECTORS, live.get(0).length());
        assertFalse(Tables.isMapped(live.get(1)), live.toString());
        assertEquals(1, h.status("vm1").reloads());
        assertEquals(1, h.status("vm1").segments());
        h.shutdown();
    }

    @Test
    void aReloadToOnlyMappedSegmentsKeepsTheKernelVolumeAndForgetsEveryChunk() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.reloading(100000, "300ms", "vm1"));
        int vol = h.addVolume("vm1");
        eventually("device created", () -> h.devices.devices.containsKey("vm1"));
        awaitAll(writes(k, vol, 0, DaemonHarness.CHUNKS));
        await(k.flush(vol));
        eventually("reloaded", () -> h.status("vm1").reloads() == 1);
        var live = h.devices.devices.get("vm1").live;
        assertTrue(live.stream().allMatch(Tables::isMapped), live.toString());
        // mapped segments are cow segments: the kernel keeps the volume and takes the FORGETs
        eventually("every chunk forgotten", () -> k.volume(vol).forgotten.size() == DaemonHarness.CHUNKS);
        assertEquals(0, k.rejected.get(), k.rejections.toString());
        assertEquals(DaemonHarness.CHUNKS, h.status("vm1").chunksCommitted());
        h.shutdown();
    }

    @Test
    void forgetsRefusedByAFullReplyQueueAreSentAfterTheNextReload() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        AtomicInteger refused = new AtomicInteger();
        // the first reload's FORGETs after the 4th find the queue full
        AtomicInteger forgets = new AtomicInteger();
        h.start(h.reloading(10, "300ms", "vm1"), replies -> m -> {
                    if (m instanceof ControlMessage.Forget && forgets.incrementAndGet() > 4 && refused.get() == 0) {
                        refused.incrementAndGet();
                        return false;
                    }
                    return replies.offer(m);
                });
        int vol = h.addVolume("vm1");
        awaitAll(writes(k, vol, 0, 12));
        await(k.flush(vol));
        eventually("the rest forgotten after the next reload", () -> k.volume(vol).forgotten.size() == 12);
        assertEquals(1, refused.get());
        assertTrue(h.status("vm1").reloads() >= 2, "a second reload sent the waiting FORGETs");
        assertEquals(0, k.rejected.get(), k.rejections.toString());
        h.shutdown();
    }

    @Test
    void aTableLoadedByHandDuringAReloadIsNoticedAndNothingIsForgottenUntilTheReloadIsRedone() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.reloading(10, "300ms", "vm1"));
        int vol = h.addVolume("vm1");
        eventually("device created", () -> h.devices.devices.containsKey("vm1"));
        h.devices.manualLoadsBeforeSuspend.set(1);
        awaitAll(writes(k, vol, 0, 12));
        await(k.flush(vol));
        eventually("the reload tried", () -> h.devices.manualLoadsBeforeSuspend.get() == 0);
        // the old all-cow table went live: a FORGET now would be refused or, worse, accepted later
        assertTrue(k.volume(vol).forgotten.isEmpty(), "forgotten although the daemon's table is not live");
        eventually("the redone reload forgets them", () -> k.volume(vol).forgotten.size() == 12);
        var live = h.devices.devices.get("vm1").live;
        assertTrue(Tables.isMapped(live.get(0)), live.toString());
        assertEquals(12 * DaemonHarness.CHUNK_SECTORS, live.get(0).length());
        h.shutdown();
    }

    @Test
    void shutdownCommitsEverythingAndReloadsOnceMore() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 1h\ndmcow.reload.max-delay = 1h", "vm1"));
        int vol = h.addVolume("vm1");
        awaitAll(writes(k, vol, 0, 8));
        // let the daemon read the fills; a fill it has not seen stays with the kernel for the next daemon
        eventually("fills taken by the volume", () -> h.channel.accepted() == k.sent.get() - 1);
        h.shutdown();
        assertEquals(8, h.spaces.get("vm1").committedCopy().size());
        assertEquals(8, k.volume(vol).forgotten.size());
        assertTrue(h.devices.devices.containsKey("vm1"), "devices stay after SIGTERM");
    }

    @Test
    void twoHundredFiftySixVolumesInOneDaemon() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        String[] names = new String[256];
        for (int i = 0; i < names.length; i++) {
            names[i] = "vm" + i;
        }
        h.start(h.volumes("dmcow.commit-interval = 200ms", names));
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        int[] ids = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            ids[i] = k.addVolume(names[i], DaemonHarness.BASE_SECTORS, DaemonHarness.CHUNK_SECTORS);
            fs.addAll(writes(k, ids[i], i % 7, i % 7 + 4));
        }
        awaitAll(fs);
        for (int id : ids) {
            await(k.flush(id));
        }
        for (int i = 0; i < names.length; i++) {
            assertEquals(4, k.volume(ids[i]).committed.size(), names[i]);
        }
        assertEquals(0, k.rejected.get(), () -> k.rejections.toString());
        assertEquals(256, h.status().size());
        h.shutdown();
    }
}
