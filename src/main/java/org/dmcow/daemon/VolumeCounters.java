/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.Arrays;
import org.dmcow.admin.Histogram;
import org.dmcow.admin.VolumeMetrics;
import org.dmcow.admin.VolumeStatus;

/**
 * What a volume counts for its metrics, where the work happens (the fault path and the commit
 * groups). Kept in the {@link VolumeLedger}, so it survives a restart of the volume actor; owned
 * by that actor alone, like the ledger: plain fields, no locks on the I/O path. Read by asking the
 * volume ({@link Volume.GetMetrics}).
 */
final class VolumeCounters {
    /** Upper bounds of the commit duration buckets, in seconds: a flush of a fast disk to a slow one's. */
    static final double[] COMMIT_BOUNDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    long faults;
    long fills;
    long commits;
    long commitFailures;
    /** DISCARDs taken (and faults of committed chunks taken as one), and unmaps made durable. */
    long discards;
    long unmaps;
    /** GRANTs sent, and chunks filled in a granted slot (no FAULT). */
    long grants;
    long grantedFills;
    private final long[] commitBuckets = new long[COMMIT_BOUNDS.length];
    private long commitNanos;
    /** When the running commit was asked for (System.nanoTime). */
    long commitStarted;

    /** A commit asked for at {@link #commitStarted} is durable. */
    void committed(long now) {
        long nanos = now - commitStarted;
        commits++;
        commitNanos += nanos;
        double seconds = nanos / 1e9;
        for (int i = 0; i < COMMIT_BOUNDS.length; i++) {
            if (seconds <= COMMIT_BOUNDS[i]) {
                commitBuckets[i]++;
                break;
            }
        }
    }

    VolumeMetrics metrics(VolumeStatus status) {
        long[] cumulative = Arrays.copyOf(commitBuckets, commitBuckets.length);
        Arrays.parallelPrefix(cumulative, Long::sum);
        return new VolumeMetrics(status, faults, fills, commits, commitFailures, discards, unmaps, grants, grantedFills,
                new Histogram(COMMIT_BOUNDS.clone(), cumulative, commits, commitNanos / 1e9));
    }
}
