/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.admin.VolumeStatus;

/**
 * The whole daemon over the kernel double, memory spaces and fake device-mapper, for the
 * benchmarks: started, and every volume serving before anything is timed. In this JVM, or in a
 * process of its own ({@link DaemonProcess}), so that its CPU is measured apart from the double's.
 */
final class BenchDaemon implements AutoCloseable {
    /** With the daemon's own scheduling settings, so the figures are the installed daemon's. */
    final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString(Dmcowd.SCHEDULING)
            .withFallback(ConfigFactory.load()));
    final KernelDouble kernel = new KernelDouble();
    /** The daemon in this JVM, or null when it runs in {@link #process}. */
    final DaemonHarness harness;
    final DaemonProcess process;
    /** Kernel volume ids, in config order. */
    final int[] ids;
    final long chunksPerVolume;

    BenchDaemon(int volumes, long volumeSize, String extraConfig) throws Exception {
        this(volumes, volumeSize, extraConfig, false);
    }

    BenchDaemon(int volumes, long volumeSize, String extraConfig, boolean ownProcess) throws Exception {
        chunksPerVolume = volumeSize / (DaemonHarness.CHUNK_SECTORS * 512L);
        ids = new int[volumes];
        if (ownProcess) {
            harness = null;
            process = DaemonProcess.start(kernel, volumes, volumeSize, extraConfig, ids);
            return;
        }
        process = null;
        Path dir = Files.createTempDirectory("dmcow-bench");
        harness = new DaemonHarness(kit, kernel, dir, volumeSize);
        String[] names = new String[volumes];
        for (int i = 0; i < volumes; i++) {
            names[i] = "v" + i;
        }
        harness.start(harness.volumes(extraConfig, names));
        for (int i = 0; i < volumes; i++) {
            ids[i] = kernel.addVolume(names[i], volumeSize / 512, DaemonHarness.CHUNK_SECTORS);
        }
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (!harness.status().stream().allMatch(s -> s.state() == VolumeStatus.State.SERVING)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("volumes not serving after 5 minutes: " + harness.status());
            }
            Thread.sleep(50);
        }
    }

    /** "KEY VALUE UNIT" on a line ops/bench's report reads, after the human-readable figures. */
    static void figure(String key, double value, String unit) {
        System.out.printf("BENCH-DAEMON %s %.1f %s%n", key, value, unit);
    }

    /** The daemon process's CPU seconds so far; NaN when it runs in this JVM. */
    double daemonCpuSeconds() {
        return process == null ? Double.NaN : process.cpuSeconds();
    }

    @Override
    public void close() throws Exception {
        if (process != null) {
            process.close();
        } else {
            harness.shutdown();
        }
        kit.shutdownTestKit();
    }
}
