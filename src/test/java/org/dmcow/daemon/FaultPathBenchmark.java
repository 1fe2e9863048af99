/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/**
 * Faults per second through the whole daemon (control stream, volume set, volumes, allocators,
 * replies) against the kernel double, and the commit cost per flush. Prints figures; asserts nothing.
 * Run: mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * && java -cp target/test-classes:target/classes:$(cat target/cp.txt) org.dmcow.daemon.FaultPathBenchmark [VOLUMES]
 */
public final class FaultPathBenchmark {
    private FaultPathBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int volumes = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        ActorTestKit kit = ActorTestKit.create();
        Path dir = Files.createTempDirectory("dmcow-bench");
        KernelDouble k = new KernelDouble();
        try {
            DaemonHarness h = new DaemonHarness(kit, k, dir);
            String[] names = new String[volumes];
            for (int i = 0; i < volumes; i++) {
                names[i] = "v" + i;
            }
            h.start(h.volumes("dmcow.commit-interval = 1s", names));
            int[] ids = new int[volumes];
            for (int i = 0; i < volumes; i++) {
                ids[i] = k.addVolume(names[i], DaemonHarness.BASE_SECTORS, DaemonHarness.CHUNK_SECTORS);
            }
            long t0 = System.nanoTime();
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (long c = 0; c < DaemonHarness.CHUNKS; c++) {
                for (int id : ids) {
                    fs.add(k.write(id, c, false));
                }
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(10, TimeUnit.MINUTES);
            long t1 = System.nanoTime();
            List<CompletableFuture<Void>> flushes = new ArrayList<>();
            for (int id : ids) {
                flushes.add(k.flush(id));
            }
            CompletableFuture.allOf(flushes.toArray(new CompletableFuture[0])).get(10, TimeUnit.MINUTES);
            long t2 = System.nanoTime();
            double faults = fs.size();
            System.out.printf("volumes %d, faults %d%n", volumes, fs.size());
            System.out.printf("fault -> MAP -> FILLED: %.0f faults/s (%.1f ms for all)%n",
                    faults / ((t1 - t0) / 1e9), (t1 - t0) / 1e6);
            System.out.printf("flush of every volume: %.1f ms; kernel write() calls %d for %d messages (%.1f per write)%n",
                    (t2 - t1) / 1e6, k.writeCalls.get(), k.messagesWritten.get(),
                    k.messagesWritten.get() / (double) k.writeCalls.get());
            h.shutdown();
        } finally {
            k.close();
            kit.shutdownTestKit();
        }
    }
}
