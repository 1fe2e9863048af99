/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.dmcow.dm.Tables;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.ControlMessage;

/**
 * What a volume knows about its chunks in this session with the kernel. Kept outside the volume
 * actor so that a supervised restart resumes from it: the kernel does not repeat what it told us.
 * Owned by one actor at a time; not thread-safe.
 */
final class VolumeLedger {
    /** A chunk's way from fault to commit. */
    enum State {
        /** A fault waits for placement (parked while the volume is degraded). */
        WAITING,
        /** The allocator was asked for a place. */
        PLACING,
        /** Placed; the MAP is not sent yet. */
        PLACED,
        /** MAP sent (or replayed GRANTED); the kernel fills the chunk. */
        MAPPED,
        /** The kernel filled the chunk and wrote its queued writes. */
        FILLED,
        /** In a commit the allocator runs. */
        COMMITTING,
        /** Committed durably; COMMITTED not sent yet. */
        DURABLE,
        /** COMMITTED sent; served by the kernel's remap until a reload makes it linear. */
        COMMITTED
    }

    static final class Chunk {
        final long chunk;
        /** Changed only through {@link VolumeLedger#set}, which keeps the counts by state. */
        State state;
        long faultSeq;
        /** The fault writes the whole chunk: its MAP asks for no fill. */
        boolean fullWrite;
        long place = -1;
        /** The fill the placement asked for (COPY or ZERO), for a MAP without a full-chunk write. */
        int placedFill = org.dmcow.protocol.Protocol.FILL_COPY;
        int fill;
        long fillSeq;

        Chunk(long chunk, State state) {
            this.chunk = chunk;
            this.state = state;
        }

        CowSpace.Mapping mapping() {
            return new CowSpace.Mapping(chunk, place);
        }
    }

    /** Read freely; added, removed and changed in state only through {@link #add}, {@link #remove}, {@link #set}. */
    final Map<Long, Chunk> chunks = new HashMap<>();
    /**
     * Chunks set FILLED, in order, for the next commit: no scan of every chunk per commit. Some
     * may have moved on or been removed since: the commit skips those.
     */
    final ArrayDeque<Chunk> filled = new ArrayDeque<>();
    /** Chunks in {@link #chunks} by state: backpressure asks on every kernel message, so no scans. */
    private final int[] counts = new int[State.values().length];
    /** Kernel messages accepted but not acknowledged to the stream: backpressure. */
    final ArrayDeque<Acceptance> heldAcks = new ArrayDeque<>();
    /** Kernel messages taken and not handled yet: those after one that crashed the actor. */
    final ArrayDeque<ControlMessage> inbox = new ArrayDeque<>();
    int kernelVolume;
    long allocatorEpoch;
    Tables.Layout layout;
    java.nio.file.Path cowLoop;
    boolean activated;
    boolean allocatorReady;
    boolean committing;
    boolean reloading;
    boolean activating;
    long flushWanted;
    /** Why new chunks wait, or null; {@link #degradedReason} is the text for people. Both set together. */
    Degraded degraded;
    String degradedReason;
    /** Counters for status. */
    long mapped;
    long committed;
    long reloads;
    long segments;
    Instant lastCommit;
    CowSpace.SpaceUsage usage = new CowSpace.SpaceUsage(0, 0, 0);

    void add(Chunk c) {
        Chunk old = chunks.put(c.chunk, c);
        if (old != null) {
            counts[old.state.ordinal()]--;
        }
        counts[c.state.ordinal()]++;
    }

    void remove(long chunk) {
        Chunk c = chunks.remove(chunk);
        if (c != null) {
            counts[c.state.ordinal()]--;
        }
    }

    void set(Chunk c, State s) {
        if (chunks.get(c.chunk) == c) {
            counts[c.state.ordinal()]--;
            counts[s.ordinal()]++;
        }
        if (s == State.FILLED && c.state != State.FILLED) {
            filled.add(c);
        }
        c.state = s;
    }

    /**
     * Chunks waiting for the daemon itself (placement or commit): what backpressure bounds. MAPPED
     * chunks wait for the kernel's FILLED, which must still be read, or the stream would deadlock.
     */
    int ownWork() {
        return chunks.size() - counts[State.COMMITTED.ordinal()] - counts[State.MAPPED.ordinal()];
    }

    long count(State s) {
        return counts[s.ordinal()];
    }
}
