/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Duration;

/**
 * The daemon's internal limits, each with why. Operators' settings are in the config
 * ({@code DaemonConfig}); the kernel protocol's own limits are in {@code Protocol}.
 */
final class Tuning {
    /** A grow writes two superblocks and may extend a file: well within this. */
    static final Duration GROW_ASK = Duration.ofSeconds(30);
    /** Chunks of a file's filesystem kept for the metadata a commit writes (qcow2: L2 tables, refcount blocks). */
    static final int METADATA_HEADROOM_CHUNKS = 4;
    /** Grants a volume keeps live at once (the module's max_grants is 64 by default). */
    static final int MAX_LIVE_GRANTS = 32;

    private Tuning() {
    }

    /**
     * Replies waiting to be written, for each of the two queues (answers to faults; COMMITTED and
     * FORGET): room for 32 volumes at the default max-in-flight. A full queue crashes the volume
     * that needs it (FORGETs just wait for the next reload). Queued messages only take memory
     * while queued.
     */
    static final int REPLY_QUEUE = 1 << 18;

    /** Writes to the control device tried before the daemon gives up (and exits for a replay). */
    static final int WRITE_ATTEMPTS = 5;
    /** The wait before the first retry of a write; it doubles with each further one. */
    static final Duration WRITE_RETRY_FIRST_WAIT = Duration.ofMillis(10);

    /**
     * How long a read's messages may wait for every volume to take its share (a volume holds its
     * share back while at max-in-flight) before they count as taken: a stuck volume slows the
     * stream, it cannot stop it for good.
     */
    static final Duration ACCEPT_TIMEOUT = Duration.ofHours(1);

    /** Messages for a kernel volume no configured volume serves yet: kept until one does. */
    static final int MAX_ORPHANS = 1 << 16;

    /** Allocator requests held while adoptions run: bounded by what the volume keeps in flight. */
    static final int ALLOCATOR_STASH = 1 << 20;

    /** A volume busy in a long commit does not hold the others' status back longer than this. */
    static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);
    /** An ask for every volume's status; longer than {@link #STATUS_TIMEOUT}, so it gets an answer. */
    static final Duration STATUS_ASK = Duration.ofSeconds(10);

    /** systemd is told READY=1 once no volume is starting, or after this with a warning. */
    static final Duration READY_WAIT = Duration.ofMinutes(1);
    /**
     * Between two looks for READY=1: each look asks every volume, and at 256 volumes five a second
     * were 1,280 status messages a second through the actors that are starting the volumes.
     */
    static final Duration READY_POLL = Duration.ofSeconds(1);
    /** Between two looks once ready, for systemd's STATUS= line (and WATCHDOG=1 at least this often). */
    static final Duration STATUS_POLL = Duration.ofSeconds(5);

    /**
     * A volume's commit and last reload on shutdown or removal, before the daemon gives up on it.
     * Volumes stop in parallel, so the volume set's shutdown takes this long at most, too.
     */
    static final Duration VOLUME_SHUTDOWN = Duration.ofMinutes(10);
    /**
     * The daemon's shutdown: nests {@link #VOLUME_SHUTDOWN}, plus a minute to write the last
     * replies to the kernel. Must stay the longer, or the daemon exits 1 mid-commit.
     */
    static final Duration DAEMON_SHUTDOWN = VOLUME_SHUTDOWN.plusMinutes(1);
}
