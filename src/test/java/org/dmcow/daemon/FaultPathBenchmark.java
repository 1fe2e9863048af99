/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The fault path through the whole daemon (control stream, volume set, volumes, allocators, reply
 * writer, commits, table reloads) against the kernel double with memory spaces: faults per second
 * at saturation (FAULT sent to MAP applied, the FILLED that follows handled too), the commit cost
 * of a flush, a write + fsync loop, then latency percentiles from a FAULT sent to its MAP applied at fixed offered rates.
 * Each fault is a new chunk, round robin over the volumes. At saturation at most WINDOW faults
 * are outstanding, as the kernel's queued bios bound them. Few volumes by default: each sends up
 * to max-in-flight COMMITTED messages at once, and the reply queue (262,144 messages) must hold
 * those of all of them. Prints figures; asserts nothing.
 * With {@code --daemon-process} the daemon runs in a JVM of its own (same options) over a Unix
 * socket ({@link DaemonProcess}): the figures are then the daemon's alone, with its CPU per fault.
 * Run (ops/bench does, after the VM):
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * && java -XX:+UseSerialGC -Xms2g -Xmx2g -cp target/test-classes:target/classes:$(cat target/cp.txt)
 * org.dmcow.daemon.FaultPathBenchmark [--daemon-process] [VOLUMES] [SECONDS-PER-RATE] [RATE...]
 */
public final class FaultPathBenchmark {
    private static final long VOLUME_SIZE = 4L << 30;
    private static final int WARM_UP = 20_000;
    private static final int SATURATION = 100_000;
    private static final int WINDOW = 4096;
    private static final int FSYNC_ITERATIONS = 2000;

    private final BenchDaemon d;
    private final long[] next;
    private int turn;

    private FaultPathBenchmark(BenchDaemon d) {
        this.d = d;
        this.next = new long[d.ids.length];
    }

    public static void main(String[] argv) throws Exception {
        boolean ownProcess = argv.length > 0 && argv[0].equals("--daemon-process");
        String[] args = ownProcess ? Arrays.copyOfRange(argv, 1, argv.length) : argv;
        int volumes = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 1;
        int[] rates = args.length > 2 ? Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {10_000, 50_000, 100_000};
        try (BenchDaemon d = new BenchDaemon(volumes, VOLUME_SIZE, "dmcow.commit-interval = 1s", ownProcess)) {
            FaultPathBenchmark b = new FaultPathBenchmark(d);
            b.saturate(WARM_UP);
            double cpu0 = d.daemonCpuSeconds();
            double perSecond = b.saturate(SATURATION);
            double cpuPerFault = (d.daemonCpuSeconds() - cpu0) / SATURATION * 1e6;
            System.out.printf("volumes %d; %d faults, %d outstanding (after %d to warm up): %.0f faults/s%s%n",
                    volumes, SATURATION, WINDOW, WARM_UP, perSecond, ownProcess
                            ? String.format(", the daemon's CPU %.1f us a fault (FAULT, MAP, FILLED, commit)",
                                    cpuPerFault) : "");
            BenchDaemon.figure("faults_per_s", perSecond, "faults/s");
            if (ownProcess) {
                BenchDaemon.figure("daemon_cpu_us_per_fault", cpuPerFault, "us");
            }
            b.flushAll();
            b.writeAndFlush(FSYNC_ITERATIONS);
            for (int rate : rates) {
                b.atRate(rate, seconds);
            }
            System.out.printf("kernel write() calls %d for %d messages (%.1f per write)%n", d.kernel.writeCalls.get(),
                    d.kernel.messagesWritten.get(), d.kernel.messagesWritten.get() / (double) d.kernel.writeCalls.get());
        }
    }

    /** Writes the next new chunk of the next volume: its future completes when the MAP is applied. */
    private CompletableFuture<Void> fault() {
        int v = turn++ % d.ids.length;
        if (next[v] >= d.chunksPerVolume) {
            throw new IllegalStateException("out of chunks: fewer faults or more volumes");
        }
        return d.kernel.write(d.ids[v], next[v]++, false);
    }

    /** {@code n} faults, {@link #WINDOW} outstanding; returns faults per second from the first sent to the last mapped. */
    private double saturate(int n) throws Exception {
        Semaphore window = new Semaphore(WINDOW);
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            if (!window.tryAcquire(10, TimeUnit.MINUTES)) {
                throw new IllegalStateException("no MAP for 10 minutes");
            }
            fault().whenComplete((x, e) -> window.release());
        }
        window.acquire(WINDOW);
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /**
     * A guest's write + fsync loop on one volume: one new chunk written, then a flush, waited for,
     * {@code n} times; the time of each and (own process) the daemon's CPU for each.
     */
    private void writeAndFlush(int n) throws Exception {
        double cpu0 = d.daemonCpuSeconds();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            fault().get(1, TimeUnit.MINUTES);
            d.kernel.flush(d.ids[(turn - 1) % d.ids.length]).get(1, TimeUnit.MINUTES);
        }
        double us = (System.nanoTime() - t0) / 1e3 / n;
        double cpuUs = (d.daemonCpuSeconds() - cpu0) / n * 1e6;
        System.out.printf("write + fsync, one at a time: %.0f us each%s%n", us,
                Double.isNaN(cpuUs) ? "" : String.format(", the daemon's CPU %.0f us each", cpuUs));
        BenchDaemon.figure("write_fsync_us", us, "us");
        if (!Double.isNaN(cpuUs)) {
            BenchDaemon.figure("daemon_cpu_us_per_write_fsync", cpuUs, "us");
        }
    }

    private void flushAll() throws Exception {
        long t0 = System.nanoTime();
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int id : d.ids) {
            fs.add(d.kernel.flush(id));
        }
        CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(10, TimeUnit.MINUTES);
        double ms = (System.nanoTime() - t0) / 1e6;
        System.out.printf("flush of every volume (commits everything filled): %.1f ms%n", ms);
        BenchDaemon.figure("flush_all_ms", ms, "ms");
    }

    /**
     * Offers faults at {@code rate} per second for {@code seconds} (open loop: sent when due,
     * whatever the daemon's backlog) and prints latency percentiles from each send to its MAP.
     */
    private void atRate(int rate, double seconds) throws Exception {
        int n = (int) (rate * seconds);
        long[] sent = new long[n];
        long[] latency = new long[n];
        // a count, not the futures: a list of them would be live data every young GC copies
        CountDownLatch mapped = new CountDownLatch(n);
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long due = t0 + (long) (i * 1e9 / rate);
            long early = due - System.nanoTime();
            if (early > 20_000) {
                // parking, not spinning: the daemon needs the cores (sends catch up in a burst)
                LockSupport.parkNanos(early);
            }
            int k = i;
            sent[k] = System.nanoTime();
            fault().whenComplete((x, e) -> {
                latency[k] = System.nanoTime() - sent[k];
                mapped.countDown();
            });
        }
        double offered = n / ((System.nanoTime() - t0) / 1e9);
        if (!mapped.await(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("no MAP for 10 minutes");
        }
        Arrays.sort(latency);
        double p50 = latency[n / 2] / 1e3;
        double p99 = latency[(int) (n * 0.99)] / 1e3;
        double p999 = latency[(int) (n * 0.999)] / 1e3;
        double max = latency[n - 1] / 1e3;
        System.out.printf("%d faults/s offered (%.0f achieved) for %.1f s: fault -> MAP p50 %.0f us, p99 %.0f us,"
                + " p99.9 %.0f us, max %.0f us%n", rate, offered, seconds, p50, p99, p999, max);
        String k = "at_" + rate / 1000 + "k";
        BenchDaemon.figure(k + "_p50_us", p50, "us");
        BenchDaemon.figure(k + "_p99_us", p99, "us");
        BenchDaemon.figure(k + "_p999_us", p999, "us");
    }
}
