/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.dmcow.daemon.Waits.await;
import static org.dmcow.daemon.Waits.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.dmcow.admin.MetricsText;
import org.dmcow.admin.PrometheusText;
import org.dmcow.admin.VolumeMetrics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The metrics move with the work: the real actors over the kernel double, read as dmcowd renders them. */
class VolumeMetricsTest {
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

    private DaemonHarness daemon(String settings, long vm1Chunks, String... names) throws Exception {
        KernelDouble k = new KernelDouble();
        kernels.add(k);
        DaemonHarness h = new DaemonHarness(KIT, k, dir);
        if (vm1Chunks > 0) {
            h.spaces.put("vm1", new MemoryCowSpace.Durable(64 << 10, DaemonHarness.BASE_SIZE, vm1Chunks));
        }
        return h.start(h.volumes("dmcow.commit-interval = 50ms\n" + settings, names));
    }

    /** The metrics text as Dmcowd renders it, parsed strictly. */
    private static PrometheusText metrics(DaemonHarness h) {
        TestProbe<List<VolumeMetrics>> p = KIT.createTestProbe();
        h.volumeSet.tell(new VolumeSet.GetMetrics(p.ref()));
        return PrometheusText.parse(MetricsText.render(p.receiveMessage(Duration.ofSeconds(10)), h.channel.metrics()));
    }

    @Test
    void faultsFillsAndCommitsCountWhereTheyHappenAndOnlyForTheVolumeWritten() throws Exception {
        DaemonHarness h = daemon("", 0, "vm1", "vm2");
        int vol = h.addVolume("vm1");
        h.addVolume("vm2");
        eventually("serving", () -> metrics(h).value("dmcow_volume_state", "volume", "vm1", "state", "serving") == 1);
        PrometheusText before = metrics(h);
        assertEquals(0, before.value("dmcow_volume_faults_total", "volume", "vm1"));
        assertEquals(0, before.value("dmcow_volume_commit_duration_seconds_count", "volume", "vm1"));
        for (long c = 0; c < 5; c++) {
            await(h.kernel.write(vol, c, c % 2 == 0));
        }
        await(h.kernel.flush(vol));
        PrometheusText after = metrics(h);
        assertEquals(5, after.value("dmcow_volume_faults_total", "volume", "vm1"));
        assertEquals(5, after.value("dmcow_volume_fills_total", "volume", "vm1"));
        double commits = after.value("dmcow_volume_commits_total", "volume", "vm1");
        assertTrue(commits >= 1, "commits " + commits);
        assertEquals(commits, after.value("dmcow_volume_commit_duration_seconds_count", "volume", "vm1"));
        assertTrue(after.value("dmcow_volume_commit_duration_seconds_sum", "volume", "vm1") > 0);
        assertEquals(5, after.value("dmcow_volume_chunks_committed", "volume", "vm1"));
        assertEquals(5 * 65536, after.value("dmcow_volume_cow_used_bytes", "volume", "vm1"));
        assertEquals(0, after.value("dmcow_volume_faults_total", "volume", "vm2"));
        assertEquals(0, after.value("dmcow_volume_commits_total", "volume", "vm2"));
        // the daemon's traffic: both volumes' VOLUME, five FAULTs, FILLEDs and a FLUSH read;
        // MAPs and COMMITTEDs written
        assertEquals(2, after.value("dmcow_kernel_messages_read_total", "type", "volume"));
        assertEquals(5, after.value("dmcow_kernel_messages_read_total", "type", "fault"));
        assertEquals(5, after.value("dmcow_kernel_messages_read_total", "type", "filled"));
        assertTrue(after.value("dmcow_kernel_messages_read_total", "type", "flush") >= 1);
        assertEquals(5, after.value("dmcow_kernel_messages_written_total", "type", "map"));
        eventually("committed written", () -> metrics(h).value("dmcow_kernel_messages_written_total", "type",
                "committed") == 5);
        assertEquals(0, after.value("dmcow_errors_total", "kind", "malformed"));
        h.shutdown();
    }

    @Test
    void aFullSpaceShowsAsStateFull() throws Exception {
        DaemonHarness h = daemon("dmcow.no-space = queue", 4, "vm1");
        int vol = h.addVolume("vm1");
        for (long c = 0; c < 4; c++) {
            await(h.kernel.write(vol, c, false));
        }
        h.kernel.write(vol, 10, false);
        eventually("full", () -> metrics(h).value("dmcow_volume_state", "volume", "vm1", "state", "full") == 1);
        // the space's use is what its last commit said: the four chunks' commit may come after the fifth fault
        eventually("no free bytes", () -> metrics(h).value("dmcow_volume_cow_free_bytes", "volume", "vm1") == 0);
        PrometheusText p = metrics(h);
        assertEquals(0, p.value("dmcow_volume_state", "volume", "vm1", "state", "serving"));
        assertEquals(4 * 65536, p.value("dmcow_volume_cow_used_bytes", "volume", "vm1"));
        assertEquals(1, p.value("dmcow_volume_chunks_pending", "volume", "vm1"));
        assertEquals(5, p.value("dmcow_volume_faults_total", "volume", "vm1"));
    }

    @Test
    void aMalformedKernelMessageCountsAsAnError() throws Exception {
        DaemonHarness h = daemon("", 0, "vm1");
        h.kernel.sendRaw(new byte[org.dmcow.protocol.Protocol.MSG_SIZE]); // type 0: no such message
        eventually("counted", () -> metrics(h).value("dmcow_errors_total", "kind", "malformed") == 1);
    }
}
