/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import java.time.Duration;
import java.util.List;

/**
 * What a volume does as its CoW space fills: the percentages of use at which the log and status
 * warn, and what writes to new chunks get once no place is left.
 */
public record SpacePolicy(NoSpace noSpace, Duration noSpaceTimeout, List<Integer> warnings, Autoextend autoextend) {
    /** The built-in defaults of reference.conf, for tests and tools that build a volume by hand. */
    public static final SpacePolicy DEFAULTS = new SpacePolicy(NoSpace.ERROR, Duration.ofSeconds(60),
            List.of(80, 90, 95), new Autoextend(100, 20, 0));

    /**
     * A file-backed space grows by {@code percent} of its size once its use reaches
     * {@code threshold} percent (100: never), up to {@code max} bytes (0: the size that holds
     * every chunk of the volume), as LVM's thin_pool_autoextend_threshold and _percent.
     */
    public record Autoextend(int threshold, int percent, long max) {
        public boolean enabled() {
            return threshold < 100;
        }
    }

    /** {@code no-space}: the writes to new chunks of a full space wait, and then? */
    public enum NoSpace {
        /** They wait until the space has room again (grown, or room on the host filesystem). */
        QUEUE,
        /** They fail with ENOSPC once they waited {@code no-space-timeout} (as dm-thin's default). */
        ERROR;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The highest warning level {@code percent} has reached, or 0. */
    public int warningReached(int percent) {
        int reached = 0;
        for (int w : warnings) {
            if (percent >= w) {
                reached = Math.max(reached, w);
            }
        }
        return reached;
    }
}
