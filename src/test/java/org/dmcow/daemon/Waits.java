/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Waiting in actor tests, bounded: 20 s, ample even on a loaded host, and a failure, not a hang. */
final class Waits {
    private Waits() {
    }

    static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not reached: " + what);
            }
            Thread.sleep(10);
        }
    }

    static void await(CompletableFuture<?> f) throws Exception {
        f.get(20, TimeUnit.SECONDS);
    }

    static void awaitAll(List<CompletableFuture<Void>> fs) throws Exception {
        await(CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])));
    }
}
