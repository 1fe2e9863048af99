/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.DaemonConfig;
import org.dmcow.protocol.ControlMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Config reloads, isolation of bad volumes, the handshake and refused replies. */
class VolumeSetTest {
    static final ActorTestKit KIT = ActorTestKit.create();

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

    private KernelDouble kernel() {
        KernelDouble k = new KernelDouble();
        kernels.add(k);
        return k;
    }

    private static void reconfigure(DaemonHarness h, String hocon) throws Exception {
        h.volumeSet.tell(new VolumeSet.Reconfigure(DaemonConfig.from("test", ConfigFactory.parseString(hocon))));
    }

    @Test
    void aGoodVolumeStartsNextToABadOne() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        String conf = h.volumes("", "good", "nospace")
                + "dmcow.volumes.broken { base = /b }\n"
                + "dmcow.volumes.missing { base = /nonexistent/base.img, cow = /nonexistent/x.cow }\n";
        h.spaces.get("nospace").failOpen = "/srv/nospace.cow: bad magic, not a native CoW space";
        h.start(conf);
        int good = h.addVolume("good");
        k.write(good, 3, false).get(20, TimeUnit.SECONDS);
        k.flush(good).get(20, TimeUnit.SECONDS);
        eventually("states", () -> h.status("missing").state() == VolumeStatus.State.DEGRADED
                && h.status("nospace").state() == VolumeStatus.State.DEGRADED);
        eventually("good serving", () -> h.status("good").state() == VolumeStatus.State.SERVING);
        assertTrue(h.status("broken").reason().contains("volume broken: cow is missing"), h.status("broken").reason());
        assertTrue(h.status("missing").reason().contains("/nonexistent/base.img: no such file"),
                h.status("missing").reason());
        assertTrue(h.status("nospace").reason().contains("bad magic"), h.status("nospace").reason());
        h.shutdown();
    }

    @Test
    void sighupAddsAndRemovesVolumesButNotOpenOnes() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("dmcow.commit-interval = 100ms", "a", "b"));
        eventually("devices", () -> h.devices.devices.containsKey("a") && h.devices.devices.containsKey("b"));
        int b = h.addVolume("b");
        k.write(b, 1, false).get(20, TimeUnit.SECONDS);
        eventually("the fill taken by the volume", () -> h.channel.accepted() == k.sent.get() - 1);
        h.devices.devices.get("a").openCount = 1;
        reconfigure(h, h.volumes("dmcow.commit-interval = 100ms", "c"));
        eventually("c created, b removed", () -> h.devices.devices.containsKey("c")
                && !h.devices.devices.containsKey("b"));
        // b's filled chunk was committed before its device went
        assertEquals(1, h.spaces.get("b").committedCopy().size());
        // a is open: it stays and keeps serving
        assertTrue(h.devices.devices.containsKey("a"));
        // b's device goes before its actor stops and leaves the set
        eventually("b gone from the status", () -> h.status().stream().map(VolumeStatus::name).toList()
                .equals(List.of("a", "c")));
        assertEquals(List.of("c"), h.volumeStatus("c").stream().map(VolumeStatus::name).toList());
        assertEquals(List.of(), h.volumeStatus("b"));
        int a = h.addVolume("a");
        k.write(a, 2, false).get(20, TimeUnit.SECONDS);
        k.flush(a).get(20, TimeUnit.SECONDS);
        h.shutdown();
    }

    @Test
    void aKernelVolumeConfiguredLaterGetsItsWaitingFaults() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.volumes("", "a"));
        int late = h.addVolume("late");
        CompletableFuture<Void> w = k.write(late, 9, false);
        Thread.sleep(300);
        assertFalse(w.isDone());
        reconfigure(h, h.volumes("", "a", "late"));
        w.get(20, TimeUnit.SECONDS);
        k.flush(late).get(20, TimeUnit.SECONDS);
        h.shutdown();
    }

    @Test
    void refusedRepliesAreFoundAndDroppedWhileTheRestGoesThrough() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        AtomicInteger n = new AtomicInteger();
        h.start(h.volumes("dmcow.commit-interval = 1h", "vm1"), replies -> m -> {
            if (n.incrementAndGet() % 5 == 0) {
                replies.send(new ControlMessage.Forget(m.volume(), 100_000 + n.get()));
            }
            return replies.offer(m);
        });
        int vol = h.addVolume("vm1");
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int c = 0; c < 40; c++) {
            fs.add(k.write(vol, c, false));
        }
        CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(20, TimeUnit.SECONDS);
        k.flush(vol).get(20, TimeUnit.SECONDS);
        assertEquals(40, k.volume(vol).committed.size());
        assertTrue(h.channel.rejected() >= n.get() / 5, "rejected " + h.channel.rejected());
        h.shutdown();
    }

    @Test
    void sighupRetriesADegradedVolume() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        String conf = h.volumes("", "vm1");
        MemoryCowSpace.Durable d = h.spaces.get("vm1");
        d.failOpen = "/srv/vm1.cow: no such file";
        h.start(conf);
        eventually("degraded", () -> h.status("vm1").state() == VolumeStatus.State.DEGRADED);
        d.failOpen = null;
        reconfigure(h, conf);
        // device made; the kernel has not reported the volume yet
        eventually("waiting", () -> h.status("vm1").state() == VolumeStatus.State.WAITING);
        int vol = h.addVolume("vm1");
        eventually("serving", () -> h.status("vm1").state() == VolumeStatus.State.SERVING);
        k.write(vol, 4, false).get(20, TimeUnit.SECONDS);
        k.flush(vol).get(20, TimeUnit.SECONDS);
        h.shutdown();
    }

    @Test
    void aReloadThatCrashesMidwayLeavesTheDeviceResumedAndIsRetried() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        h.start(h.reloading(4, "200ms", "vm1"));
        eventually("device", () -> h.devices.devices.containsKey("vm1"));
        h.devices.crashSuspends.set(1);
        int vol = h.addVolume("vm1");
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int c = 0; c < 6; c++) {
            fs.add(k.write(vol, c, false));
        }
        CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(20, TimeUnit.SECONDS);
        k.flush(vol).get(20, TimeUnit.SECONDS);
        eventually("forgotten after the retried reload", () -> k.volume(vol).forgotten.size() == 6);
        assertEquals(0, h.devices.crashSuspends.get());
        assertFalse(h.devices.devices.get("vm1").suspended);
        assertEquals(0, k.rejected.get(), () -> k.rejections.toString());
        h.shutdown();
    }

    @Test
    void aVolumeThatCrashesIsRestartedAloneItsSiblingsKeepServing() throws Exception {
        KernelDouble k = kernel();
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        AtomicInteger crashReplies = new AtomicInteger();
        int[] crashing = new int[1];
        // volume a's 5th and 12th replies crash its actor before they reach the kernel
        h.start(h.volumes("dmcow.commit-interval = 1h", "a", "b"), replies -> m -> {
            if (m.volume() == crashing[0]) {
                int n = crashReplies.incrementAndGet();
                if (n == 5 || n == 12) {
                    throw new IllegalStateException("injected crash of volume a at its reply " + n);
                }
            }
            return replies.offer(m);
        });
        crashing[0] = h.addVolume("a");
        int b = h.addVolume("b");
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int c = 0; c < 10; c++) {
            fs.add(k.write(crashing[0], c, false));
            fs.add(k.write(b, c, false));
        }
        CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(20, TimeUnit.SECONDS);
        k.flush(crashing[0]).get(20, TimeUnit.SECONDS);
        k.flush(b).get(20, TimeUnit.SECONDS);
        assertTrue(crashReplies.get() >= 12, "volume a crashed twice: " + crashReplies.get());
        // a restarted volume starts a new allocator, which opens its space again; b was never restarted
        assertTrue(h.spaces.get("a").opens.get() >= 2, "a's space opened " + h.spaces.get("a").opens.get());
        assertEquals(1, h.spaces.get("b").opens.get());
        assertEquals(10, k.volume(crashing[0]).committed.size());
        assertEquals(10, k.volume(b).committed.size());
        assertEquals(20, k.maps.get());
        assertEquals(0, k.rejected.get(), () -> k.rejections.toString());
        eventually("both serving", () -> h.status("a").state() == VolumeStatus.State.SERVING
                && h.status("b").state() == VolumeStatus.State.SERVING);
        h.shutdown();
    }

    @Test
    void anOlderKernelModuleIsRefusedClearly() {
        // protocol 3: a module (target 1.3.0) without grants
        KernelDouble k = new KernelDouble(3);
        kernels.add(k);
        ControlChannel.ProtocolMismatchException e = assertThrows(ControlChannel.ProtocolMismatchException.class,
                () -> ControlChannel.handshake(k, 8));
        assertTrue(e.getMessage().startsWith("kernel module speaks protocol 3"), e.getMessage());
        assertTrue(e.getMessage().contains("this dmcowd speaks 4"), e.getMessage());
        assertTrue(e.getMessage().contains("load the dm-cow module of this release"), e.getMessage());
    }
}
