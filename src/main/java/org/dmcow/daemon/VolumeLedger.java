/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.SpacePolicy;
import org.dmcow.config.VolumeConfig;
import org.dmcow.dm.Tables;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.ControlMessage;

/**
 * What a volume knows about its chunks in this session with the kernel. Kept outside the volume
 * actor so that a supervised restart resumes from it: the kernel does not repeat what it told us.
 * Owned by one actor at a time; not thread-safe.
 */
final class VolumeLedger {
    /** Where a volume is in setting itself up; drawn in {@link Volume}'s class comment. */
    enum Phase {
        /** The base and CoW devices are set up (loop devices for files). */
        ATTACHING,
        /** Its allocator opens the CoW space. */
        OPENING,
        /** The space is open; the dm device is created or adopted with the committed runs. */
        ACTIVATING,
        /** The space is open and the dm device serves this volume's table. */
        SERVING
    }

    final ChunkTable chunks = new ChunkTable();
    /** The grants the kernel holds and the windows placed for grants ({@link GrantPolicy}). */
    final LiveGrants grants = new LiveGrants();
    /** Kernel messages accepted but not acknowledged to the stream: backpressure. */
    final ArrayDeque<Acceptance> heldAcks = new ArrayDeque<>();
    /** Kernel messages taken and not handled yet: those after one that crashed the actor. */
    final ArrayDeque<ControlMessage> inbox = new ArrayDeque<>();
    int kernelVolume;
    long allocatorEpoch;
    Tables.Layout layout;
    Path cowLoop;
    /** Starts again at ATTACHING when the actor restarts ({@link #childrenLost}). */
    Phase phase = Phase.ATTACHING;
    /** The dm device serves this volume's table: the first activation is done, also before a restart. */
    boolean activated;
    boolean committing;
    boolean reloading;
    /** A stop asked the allocator for {@link Allocator.Sync} after its grants' places were released; answered. */
    boolean syncing;
    boolean synced;
    boolean activating;
    long flushWanted;
    /** Why new chunks wait, or null; {@link #degradedReason} is the text for people. Both set together. */
    Degraded degraded;
    String degradedReason;
    /** The space had no place for a new chunk ({@link SpaceWatch}): since (System.nanoTime) and why. */
    boolean full;
    long fullSince;
    String fullReason;
    /** Full past no-space-timeout with no-space = error: new chunks fail with ENOSPC at once. */
    boolean failingNewChunks;
    /** The format grows its store as it places (qcow2): its free chunks measure no room. */
    boolean spaceGrowsItself;
    /** The format's commits take unmaps: DISCARDs give chunks back (its segments have discard_unmap). */
    boolean unmaps;
    /** The highest space-warnings level the use has reached (0: none). */
    int warnedLevel;
    /** Counters for status. */
    long mapped;
    long committed;
    long reloads;
    long segments;
    Instant lastCommit;
    CowSpace.SpaceUsage usage = new CowSpace.SpaceUsage(0, 0, 0);
    /** Counters for metrics. */
    final VolumeCounters counters = new VolumeCounters();

    /** The allocator has the CoW space open: it places and commits. */
    boolean spaceOpen() {
        return phase == Phase.ACTIVATING || phase == Phase.SERVING;
    }

    /** After a restart of the volume: what its old children were doing is gone and is asked again. */
    void childrenLost() {
        phase = Phase.ATTACHING;
        committing = false;
        reloading = false;
        activating = false;
        syncing = false;
        for (ChunkTable.Chunk c : chunks.values()) {
            if (c.state == ChunkTable.State.COMMITTING) {
                chunks.set(c, ChunkTable.State.FILLED);
            } else if (c.state == ChunkTable.State.UNMAPPING) {
                chunks.set(c, ChunkTable.State.DISCARDED);
            }
        }
    }

    VolumeStatus status(VolumeConfig config, boolean stopping) {
        VolumeStatus.State state = degraded != null ? VolumeStatus.State.DEGRADED
                : full ? VolumeStatus.State.FULL
                : stopping ? VolumeStatus.State.STOPPING
                : phase != Phase.SERVING ? VolumeStatus.State.STARTING
                : kernelVolume == 0 ? VolumeStatus.State.WAITING : VolumeStatus.State.SERVING;
        String reason = degraded != null ? degradedReason : spaceText(config);
        return new VolumeStatus(config.name(), state, reason, mapped, usage.mappings(), chunks.unmapped(),
                usage.usedChunks(), usage.freeChunks(), lastCommit, reloads, segments, config.chunkSize(), config.base(),
                config.cow(), config.format(), spaceGrowsItself);
    }

    /** Used chunks in percent of the space's room; 0 for a format that grows itself (no fixed room). */
    int percentUsed() {
        long room = usage.usedChunks() + usage.freeChunks();
        return spaceGrowsItself || room == 0 ? 0 : (int) (usage.usedChunks() * 100 / room);
    }

    /** The words status shows for a full space, or for use past a warning level; null for neither. */
    private String spaceText(VolumeConfig config) {
        if (full) {
            return fullReason + (failingNewChunks ? "; writes to new chunks fail with ENOSPC"
                    : config.space().noSpace() == SpacePolicy.NoSpace.QUEUE ? "; writes to new chunks wait"
                    : "; writes to new chunks wait, then fail with ENOSPC");
        }
        return warnedLevel == 0 ? null : "CoW space " + percentUsed() + "% used, past the warning level of "
                + warnedLevel + "%";
    }
}
