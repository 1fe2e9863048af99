/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.dmcow.config.SpacePolicy;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.qcow2.Qemu;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole daemon over a real qcow2 file (fake devices, kernel double): clean shutdown leaves
 * {@code qemu-img check} at exit 0, and after a restart the places the kernel still holds are
 * adopted, not handed out again, and committed where they are.
 */
class Qcow2DaemonTest {
    static final ActorTestKit KIT = ActorTestKit.create();
    private static final int CHUNK_SECTORS = 128;

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @TempDir
    Path dir;

    private String config(Path cow) {
        return "dmcow.commit-interval = 1h\ndmcow.volumes.vm1 { base = \"" + dir.resolve("base.img") + "\", cow = \""
                + cow + "\", format = qcow2 }\n";
    }

    private DaemonHarness harness(KernelDouble k) throws Exception {
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.realSpaces = new FormatSpaceOpener(h.devices);
        return h;
    }

    /** Runs qemu-img check: exit 0 (no leaks, no corruption) and {@code clusters} allocated data clusters. */
    private static void qemuImgCheckClean(Path cow, int clusters) throws Exception {
        Qemu.Result check = Qemu.run("qemu-img", "check", "--output=json", "-f", "qcow2", cow.toString());
        assertEquals(0, check.exit(), check.out() + check.err());
        assertTrue(check.out().contains("\"allocated-clusters\": " + clusters + ","), check.out());
    }

    /** A zero base and an empty qcow2 overlay of it with 64 KiB clusters: the overlay. */
    private Path overlay() throws Exception {
        Path cow = dir.resolve("vm1.qcow2");
        try (RandomAccessFile base = new RandomAccessFile(dir.resolve("base.img").toFile(), "rw")) {
            base.setLength(DaemonHarness.BASE_SIZE);
        }
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", "-b",
                dir.resolve("base.img").toString(), "-F", "raw", cow.toString()).ok();
        return cow;
    }

    @Test
    void aCleanStopRevokesTheGrantsAndLeavesNoClusterOfAnUnwrittenGrantedChunk() throws Exception {
        Path cow = overlay();
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = harness(k).start(config(cow) + "dmcow.grant-window = 16\n");
            int vol = k.addVolume("vm1", DaemonHarness.BASE_SECTORS, CHUNK_SECTORS);
            await(k.write(vol, 0, false)); // faults: its window's 1..15 are granted
            KernelDouble.Vol v = k.volume(vol);
            Waits.eventually("a grant", () -> {
                synchronized (k) {
                    return !v.grants.live.isEmpty();
                }
            });
            await(k.write(vol, 1, false));
            await(k.write(vol, 2, true));
            await(k.flush(vol));
            assertEquals(1, v.faultSeq);
            assertEquals(2, v.grants.slotsTaken);
            h.shutdown();
            synchronized (k) {
                assertEquals(Map.of(), v.grants.live, "a grant outlived the clean stop");
            }
            assertEquals(List.of(), k.rejections);
        }
        qemuImgCheckClean(cow, 3); // exit 3 (13 leaked clusters) if the unwritten ones were kept
    }

    /**
     * dmcowd exits as soon as the volume set answers its shutdown: by then every allocator must have
     * closed its space, which frees a qcow2 file's released clusters (a slow disk made the close lose
     * the race with the exit, leaving the clusters of unwritten granted chunks leaked).
     */
    @Test
    void aStopIsAnsweredOnlyOnceEverySpaceIsClosed() throws Exception {
        Path cow = overlay();
        AtomicBoolean closed = new AtomicBoolean();
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = harness(k);
            SpaceOpener real = h.realSpaces;
            h.realSpaces = (volume, cowLoop) -> {
                SpaceOpener.OpenedSpace o = real.open(volume, cowLoop);
                return new SpaceOpener.OpenedSpace(o.space(), o.store(), () -> {
                    o.held().close();
                    try {
                        TimeUnit.MILLISECONDS.sleep(300); // a close that takes a while: the disk is slow
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    closed.set(true);
                });
            };
            h.start(config(cow) + "dmcow.grant-window = 16\n");
            int vol = k.addVolume("vm1", DaemonHarness.BASE_SECTORS, CHUNK_SECTORS);
            await(k.write(vol, 0, false));
            await(k.flush(vol));
            TestProbe<Done> stopped = KIT.createTestProbe();
            h.volumeSet.tell(new VolumeSet.Shutdown(stopped.ref()));
            stopped.receiveMessage(Duration.ofSeconds(20));
            assertTrue(closed.get(), "the shutdown was answered before the CoW space was closed");
            qemuImgCheckClean(cow, 1); // the granted chunks' clusters are freed by the close
            h.shutdown();
        }
    }

    @Test
    void cleanShutdownAndARestartWithReplayedRemapsLeaveTheImageClean() throws Exception {
        Path cow = overlay();

        // first daemon: ten chunks committed by a flush, two filled and left to the clean shutdown
        Map<Long, Long> places;
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = harness(k).start(config(cow));
            int vol = k.addVolume("vm1", DaemonHarness.BASE_SECTORS, CHUNK_SECTORS);
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (long c = 0; c < 10; c++) {
                writes.add(k.write(vol, c, false));
            }
            for (CompletableFuture<Void> w : writes) {
                await(w);
            }
            await(k.flush(vol));
            await(k.write(vol, 30, false));
            await(k.write(vol, 31, true));
            h.shutdown();
            places = Map.copyOf(k.volume(vol).place);
        }
        qemuImgCheckClean(cow, 12);

        // A crashed daemon placed chunks 40 and 41 (their clusters counted) and the kernel holds them:
        // filled and fill running. The next daemon must adopt them, not hand them out again.
        long p40;
        long p41;
        VolumeConfig volume = new VolumeConfig("vm1", dir.resolve("base.img"), cow, "qcow2", 65536,
                SpacePolicy.DEFAULTS);
        try (SpaceOpener.OpenedSpace crashed = new FormatSpaceOpener(new FakeDevices()).open(volume, null)) {
            p40 = crashed.space().place(40).place() / 512;
            p41 = crashed.space().place(41).place() / 512;
        }
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = harness(k);
            int vol = k.addVolume("vm1", DaemonHarness.BASE_SECTORS, CHUNK_SECTORS);
            k.replayMapped(vol, 40, p40, true);
            k.replayMapped(vol, 41, p41, false);
            CompletableFuture<Void> fresh = k.write(vol, 42, false);
            k.replayDone();
            h.start(config(cow));
            await(fresh);
            k.finishFill(vol, 41);
            await(k.flush(vol));
            KernelDouble.Vol v = k.volume(vol);
            assertEquals(Set.of(40L, 41L, 42L), v.committed);
            Set<Long> held = new HashSet<>(places.values());
            held.add(p40);
            held.add(p41);
            assertFalse(held.contains(v.place.get(42L)), "chunk 42 was placed where a chunk already is");
            h.shutdown();
        }
        qemuImgCheckClean(cow, 15);
        String map = Qemu.run("qemu-img", "map", "--output=json", "-f", "qcow2", cow.toString()).ok().out();
        assertEquals(p40 * 512, Qemu.hostOffset(map, 40 * 65536), map);
        assertTrue(p41 == p40 + CHUNK_SECTORS || Qemu.hostOffset(map, 41 * 65536) == p41 * 512, map);
    }
}
