/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.util.function.LongUnaryOperator;

/**
 * Chooses a data chunk for a volume chunk so that neighbours stay together (each run adjacent in
 * the volume and the space is one mapped {@code cow} table segment): right after the place of chunk
 * v-1, else right before that of v+1, else at v's proportional home in the data area, else in
 * the middle of the longest free run, which leaves room on both sides to grow.
 */
final class Placer {
    private final FreeSpace free;
    private final long volumeChunks;
    /** Place (data chunk) of a volume chunk, committed or reserved, or -1. */
    private final LongUnaryOperator placeOf;

    Placer(FreeSpace free, long volumeChunks, LongUnaryOperator placeOf) {
        this.free = free;
        this.volumeChunks = volumeChunks;
        this.placeOf = placeOf;
    }

    /** A free data chunk for {@code v} (not yet marked used), or -1 when none is free. */
    long choose(long v) {
        long dataChunks = free.chunks();
        if (v > 0) {
            long after = placeOf.applyAsLong(v - 1);
            if (after >= 0 && after + 1 < dataChunks && !free.used(after + 1)) {
                return after + 1;
            }
        }
        if (v + 1 < volumeChunks) {
            long before = placeOf.applyAsLong(v + 1);
            if (before > 0 && !free.used(before - 1)) {
                return before - 1;
            }
        }
        if (dataChunks >= volumeChunks && !free.used(v)) {
            return v;
        }
        long[] run = free.longestFreeRun();
        return run == null ? -1 : run[0] + run[1] / 2;
    }
}
