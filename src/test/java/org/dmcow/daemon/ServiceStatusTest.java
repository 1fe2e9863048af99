/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.admin.VolumeStatus.State;
import org.junit.jupiter.api.Test;

/** What systemd is told: READY=1 once nothing starts, a current STATUS= line, WATCHDOG=1 only while the volumes answer. */
class ServiceStatusTest {
    private static VolumeStatus volume(String name, State state) {
        return new VolumeStatus(name, state, "", 0, 0, 0, 0, 0, null, 0, 0, 65536, Path.of("/base"),
                Path.of("/" + name + ".cow"), "native", false);
    }

    /** The volume set as the test makes it: answers with {@link #now}, or fails the ask. */
    private static final class Volumes {
        volatile List<VolumeStatus> now = List.of();
        volatile boolean answering = true;

        CompletableFuture<List<VolumeStatus>> ask() {
            return answering ? CompletableFuture.completedFuture(now)
                    : CompletableFuture.failedFuture(new IllegalStateException("no answer"));
        }
    }

    private static String next(BlockingQueue<String> sent) throws InterruptedException {
        String s = sent.poll(10, TimeUnit.SECONDS);
        assertNotNull(s, "nothing sent to systemd within 10 s");
        return s;
    }

    @Test
    void readyOnlyOnceNoVolumeIsStartingAndTheStatusFollowsTheVolumes() throws Exception {
        Volumes volumes = new Volumes();
        volumes.now = List.of(volume("a", State.SERVING), volume("b", State.STARTING));
        BlockingQueue<String> sent = new LinkedBlockingQueue<>();
        ServiceStatus s = new ServiceStatus(volumes::ask, sent::add, Optional.empty(), Duration.ofMillis(100));
        s.start();
        try {
            assertEquals("STATUS=2 volumes: 1 starting: b, 1 serving", next(sent));
            volumes.now = List.of(volume("a", State.SERVING), volume("b", State.SERVING));
            assertEquals("READY=1\nSTATUS=2 volumes: 2 serving", next(sent));
            volumes.now = List.of(volume("a", State.FULL), volume("b", State.SERVING));
            s.full("a", true);
            assertEquals("STATUS=2 volumes: 1 serving, 1 full: a", next(sent));
            // nothing changes, nothing is sent (no watchdog here)
            assertEquals(null, sent.poll(500, TimeUnit.MILLISECONDS));
        } finally {
            s.stop();
        }
    }

    @Test
    void watchdogPingsOnlyWhileTheVolumeSetAnswers() throws Exception {
        Volumes volumes = new Volumes();
        volumes.now = List.of(volume("a", State.SERVING));
        BlockingQueue<String> sent = new LinkedBlockingQueue<>();
        // a watchdog of 200 ms: looks every 100 ms, shorter than the poll given
        ServiceStatus s = new ServiceStatus(volumes::ask, sent::add, Optional.of(Duration.ofMillis(200)),
                Duration.ofSeconds(5));
        s.start();
        try {
            assertEquals("READY=1\nSTATUS=1 volume: 1 serving\nWATCHDOG=1", next(sent));
            assertEquals("WATCHDOG=1", next(sent));
            volumes.answering = false;
            Thread.sleep(150);
            sent.clear();
            assertEquals(null, sent.poll(600, TimeUnit.MILLISECONDS), "a ping while the volume set did not answer");
            volumes.answering = true;
            assertEquals("WATCHDOG=1", next(sent));
            s.stop();
            Thread.sleep(150);
            sent.clear();
            assertEquals(null, sent.poll(500, TimeUnit.MILLISECONDS), "a ping after stop");
        } finally {
            s.stop();
        }
    }

    @Test
    void theWatchdogIntervalIsSystemdsForThisProcessOnly() {
        assertEquals(Optional.of(Duration.ofSeconds(30)),
                ServiceStatus.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000"), 42));
        assertEquals(Optional.of(Duration.ofSeconds(30)),
                ServiceStatus.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "42"), 42));
        assertFalse(ServiceStatus.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "7"), 42)
                .isPresent());
        assertFalse(ServiceStatus.watchdogInterval(Map.of(), 42).isPresent());
        assertFalse(ServiceStatus.watchdogInterval(Map.of("WATCHDOG_USEC", "soon"), 42).isPresent());
        assertFalse(ServiceStatus.watchdogInterval(Map.of("WATCHDOG_USEC", "0"), 42).isPresent());
    }

    @Test
    void theStatusLineNamesAtMostEightVolumesPerState() {
        List<VolumeStatus> many = new java.util.ArrayList<>();
        for (int i = 0; i < 10; i++) {
            many.add(volume("v" + i, State.DEGRADED));
        }
        String line = ServiceStatus.describe(many);
        assertEquals("10 volumes: 10 degraded: v0 v1 v2 v3 v4 v5 v6 v7 ...", line);
        assertTrue(ServiceStatus.describe(List.of()).startsWith("0 volumes"));
    }
}
