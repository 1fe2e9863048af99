/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.dmcow.admin.GrowResult;
import org.dmcow.config.SpacePolicy;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.CowSpace;
import org.slf4j.Logger;

/**
 * A volume's CoW space as it fills, on the volume actor's thread: the warnings as use passes the
 * levels of {@code space-warnings}, and a full space under its no-space policy. While full, new
 * chunks wait and one of them tries for a place each tick (the space may have room again: grown,
 * or room on the host filesystem); with {@code no-space = error}, once the space has been full
 * for {@code no-space-timeout}, waiting writes and new ones fail with ENOSPC until it has room,
 * as dm-thin does. Writes to written chunks and reads never wait for this. Growing the space, on
 * request or by autoextend, is asked of the allocator from here.
 */
final class SpaceWatch {
    static final int ENOSPC = 28;

    /** Who else is told when a volume fills or has room again (systemd's status line). */
    @FunctionalInterface
    interface Listener {
        void full(String volume, boolean full);
    }

    private final VolumeConfig config;
    private final VolumeLedger ledger;
    private final FaultPath faults;
    private final AllocatorRequests requests;
    private final Listener listener;
    private final Logger log;
    /** Who asked for a grow the allocator has not answered yet. */
    private final List<ActorRef<GrowResult>> growing = new ArrayList<>();
    /** An autoextend's grow is asked and not answered. */
    private boolean extending;
    /** Autoextend reached its maximum or failed (a block device): not tried again. */
    private boolean extendStopped;

    SpaceWatch(VolumeConfig config, VolumeLedger ledger, FaultPath faults, AllocatorRequests requests,
            Listener listener, Logger log) {
        this.config = config;
        this.ledger = ledger;
        this.faults = faults;
        this.requests = requests;
        this.listener = listener;
        this.log = log;
    }

    /** A placement found no room: new chunks wait, or fail (policy). */
    void full(String reason) {
        if (!ledger.full) {
            ledger.full = true;
            ledger.fullSince = System.nanoTime();
            log.error("volume {}: {}; writes to new chunks {}", config.name(), reason, policyText());
            listener.full(config.name(), true);
        }
        ledger.fullReason = reason;
        failIfTimedOut();
    }

    /** A chunk got a place, or the space grew: waiting chunks are placed again. */
    void room(String why) {
        if (!ledger.full) {
            return;
        }
        log.info("volume {}: the CoW space has room again ({}); writes to new chunks go on", config.name(), why);
        ledger.full = false;
        ledger.failingNewChunks = false;
        ledger.fullReason = null;
        listener.full(config.name(), false);
        if (ledger.degraded == null) {
            faults.placeWaiting(); // a degraded volume's chunks wait for its own way back
        }
    }

    /** Every tick while full: the timeout, then one waiting chunk tries for a place. */
    void tick() {
        if (ledger.full) {
            failIfTimedOut();
            faults.placeOneWaiting();
        }
    }

    /** Unmapped places were freed after a reload: room, if any, for waiting chunks. */
    void freed(Allocator.Freed m) {
        if (m.error() != null) {
            log.warn("volume {}: freeing unmapped places: {}; tried again after the next reload", config.name(),
                    m.error());
        }
        usage(m.usage());
        if (m.usage().freeChunks() > 0) {
            room("discarded chunks were freed");
        }
    }

    /** A new allocator opened the space. */
    void opened(CowSpace.SpaceUsage usage, boolean growsItself) {
        ledger.spaceGrowsItself = growsItself;
        usage(usage);
    }

    /** The space's use changed (a commit, the space opened or grew): warn as it passes a level. */
    void usage(CowSpace.SpaceUsage usage) {
        ledger.usage = usage;
        int percent = ledger.percentUsed();
        int level = config.space().warningReached(percent);
        if (level > ledger.warnedLevel) {
            log.warn("volume {}: CoW space {}% used ({} of {} chunks), past the warning level of {}%", config.name(),
                    percent, usage.usedChunks(), usage.usedChunks() + usage.freeChunks(), level);
        }
        ledger.warnedLevel = level;
        autoextend(usage, percent);
    }


    /** Past autoextend's threshold: the allocator grows the file by its percentage, within its maximum. */
    private void autoextend(CowSpace.SpaceUsage usage, int percent) {
        SpacePolicy.Autoextend a = config.space().autoextend();
        if (!a.enabled() || ledger.spaceGrowsItself || extending || extendStopped || percent < a.threshold()) {
            return;
        }
        long chunk = config.chunkSize();
        long data = (usage.usedChunks() + usage.freeChunks()) * chunk;
        long by = Math.max(1, (data * a.percent() / 100 + chunk - 1) / chunk) * chunk; // whole chunks
        log.info("volume {}: CoW space {}% used, autoextend threshold {}%: growing it by {} bytes", config.name(),
                percent, a.threshold(), by);
        extending = true;
        requests.add(new Allocator.Grow(0, by, a.max() == 0 ? Allocator.Grow.WHOLE_VOLUME : a.max()));
    }

    /**
     * Asks the allocator to take in the room the store gained, after growing a file to
     * {@code size} or by {@code by} (both 0: as it is); {@code replyTo} null: a SIGHUP's look,
     * answered to no one.
     */
    void grow(long size, long by, ActorRef<GrowResult> replyTo) {
        if (!ledger.spaceOpen()) {
            if (replyTo != null) {
                replyTo.tell(GrowResult.refused(config.name(), "its CoW space is not open yet ("
                        + ledger.status(config, false).state().word() + ")"));
            }
            return;
        }
        if (replyTo != null) {
            growing.add(replyTo);
        }
        requests.add(new Allocator.Grow(size, by, Allocator.Grow.NO_LIMIT));
    }

    /** A grow ended: the new room is used, and those who asked are told. */
    void grown(Allocator.Grown m) {
        boolean larger = m.bytes() > m.bytesBefore();
        if (extending && !larger) {
            log.warn("volume {}: autoextend is at its maximum; the CoW space grows no more by itself", config.name());
            extendStopped = true;
        }
        extending = false;
        usage(m.usage());
        if (larger || !growing.isEmpty()) {
            log.info("volume {}: CoW space {}: {} bytes (was {}), {} chunks free", config.name(), config.cow(),
                    m.bytes(), m.bytesBefore(), m.usage().freeChunks());
        }
        if (m.usage().freeChunks() > 0) {
            room("grown to " + m.bytes() + " bytes");
        }
        growing.forEach(r -> r.tell(new GrowResult(config.name(), null, m.bytesBefore(), m.bytes(),
                m.usage().freeChunks())));
        growing.clear();
    }

    /** A grow failed: those who asked are told why; an autoextend is not tried again. */
    void growFailed(Allocator.GrowFailed m) {
        log.error("volume {}: growing the CoW space failed: {}", config.name(), m.reason());
        if (extending) {
            extendStopped = true;
        }
        extending = false;
        growing.forEach(r -> r.tell(GrowResult.refused(config.name(), m.reason())));
        growing.clear();
    }

    private void failIfTimedOut() {
        SpacePolicy p = config.space();
        if (p.noSpace() != SpacePolicy.NoSpace.ERROR
                || System.nanoTime() - ledger.fullSince < p.noSpaceTimeout().toNanos()) {
            return;
        }
        if (!ledger.failingNewChunks) {
            ledger.failingNewChunks = true;
            log.error("volume {}: the CoW space has been full for {}: writes to new chunks fail with ENOSPC until "
                    + "it has room (no-space = error)", config.name(), words(p.noSpaceTimeout()));
        }
        int failed = faults.failWaiting(ENOSPC);
        if (failed > 0) {
            log.info("volume {}: writes to {} new chunks failed with ENOSPC", config.name(), failed);
        }
    }

    private String policyText() {
        SpacePolicy p = config.space();
        return p.noSpace() == SpacePolicy.NoSpace.QUEUE ? "wait until it has room (no-space = queue)"
                : "wait, and fail with ENOSPC once it has been full for " + words(p.noSpaceTimeout())
                        + " (no-space = error)";
    }

    private static String words(java.time.Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
