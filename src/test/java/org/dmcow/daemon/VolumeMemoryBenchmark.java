/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The daemon's memory with many volumes: VOLUMES volumes over the kernel double, each with
 * CHUNKS chunks faulted, filled, committed and folded into its table; then the live heap after a
 * full GC and the process's resident set (VmRSS, VmHWM), which the JVM options decide as much as
 * the volumes do (the default preallocates and touches 64 MiB of heap, which grows as needed). The kernel double's own
 * bookkeeping is in the same heap (small at a few chunks per volume). Prints figures; asserts
 * nothing. Run like {@link FaultPathBenchmark}, with the daemon's JVM options, e.g.
 * java -Xms64m -XX:MaxHeapFreeRatio=100 -XX:+AlwaysPreTouch -XX:+UseSerialGC -cp ... org.dmcow.daemon.VolumeMemoryBenchmark [VOLUMES] [CHUNKS]
 */
public final class VolumeMemoryBenchmark {
    private VolumeMemoryBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int volumes = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int chunks = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        long before = liveHeap();
        // reload after every 16 mappings, so that the tables hold mapped segments too
        try (BenchDaemon d = new BenchDaemon(volumes, 1L << 30,
                "dmcow.commit-interval = 1s\ndmcow.reload { max-mappings = 16, max-delay = 200ms }")) {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int c = 0; c < chunks; c++) {
                for (int id : d.ids) {
                    fs.add(d.kernel.write(id, c, false));
                }
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(10, TimeUnit.MINUTES);
            fs.clear();
            for (int id : d.ids) {
                fs.add(d.kernel.flush(id));
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(10, TimeUnit.MINUTES);
            Thread.sleep(1000); // the last reloads
            long live = liveHeap();
            String jvm = String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments());
            System.out.printf("%d volumes, %d chunks each mapped and committed; JVM options: %s%n", volumes, chunks, jvm);
            System.out.printf("live heap after full GC: %.1f MiB (%.1f MiB before the daemon started; %.1f KiB per volume)%n",
                    live / 1048576.0, before / 1048576.0, (live - before) / 1024.0 / volumes);
            long committed = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
            System.out.printf("heap committed: %.1f MiB%n", committed / 1048576.0);
            System.out.printf("resident set: VmRSS %d MiB, VmHWM %d MiB%n", status("VmRSS"), status("VmHWM"));
            BenchDaemon.figure("volumes", volumes, "volumes");
            BenchDaemon.figure("live_heap_mib", live / 1048576.0, "MiB");
            BenchDaemon.figure("heap_per_volume_kib", (live - before) / 1024.0 / volumes, "KiB");
            BenchDaemon.figure("heap_committed_mib", committed / 1048576.0, "MiB");
            BenchDaemon.figure("rss_mib", status("VmRSS"), "MiB");
            BenchDaemon.figure("rss_peak_mib", status("VmHWM"), "MiB");
        }
    }

    private static long liveHeap() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** A /proc/self/status field in MiB. */
    private static long status(String field) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith(field + ":")) {
                return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024;
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }
}
