/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.Protocol;

/**
 * A volume's chunks on their way from fault to commit, and discarded ones on theirs to unmapped,
 * counted by state: backpressure asks for the counts on every kernel message, so they are kept,
 * never scanned for. Not thread-safe.
 */
final class ChunkTable {
    /** A chunk's way from fault to commit. */
    enum State {
        /** A fault waits for placement (parked while the volume is degraded). */
        WAITING,
        /** The allocator was asked for a place. */
        PLACING,
        /** Placed; the MAP is not sent yet. */
        PLACED,
        /** Not written yet: the allocator was asked for a place to grant the kernel ({@link GrantPolicy}). */
        GRANT_PLACING,
        /** Placed and granted: the kernel's first write fills it there with no FAULT (FILLED names the grant). */
        GRANTED,
        /** MAP sent (or replayed GRANTED); the kernel fills the chunk. */
        MAPPED,
        /** The kernel filled the chunk and wrote its queued writes. */
        FILLED,
        /** In a commit the allocator runs. */
        COMMITTING,
        /** Committed durably; COMMITTED not sent yet. */
        DURABLE,
        /** COMMITTED sent; served by the kernel's remap until a reload puts it in a mapped segment. */
        COMMITTED,
        /** The kernel discarded the committed chunk whole (DISCARD): its unmap waits for a commit. */
        DISCARDED,
        /** Its unmap is in a commit the allocator runs. */
        UNMAPPING,
        /** Unmapped durably; FORGET once a reload serves it by a plain cow segment. */
        UNMAPPED
    }

    static final class Chunk {
        final long chunk;
        /** Changed only through {@link ChunkTable#set}, which keeps the counts by state. */
        State state;
        long faultSeq;
        /** The fault writes the whole chunk: its MAP asks for no fill. */
        boolean fullWrite;
        long place = -1;
        /** The fill the placement asked for (COPY or ZERO), for a MAP without a full-chunk write. */
        int placedFill = Protocol.FILL_COPY;
        int fill;
        long fillSeq;
        /** DISCARDED or UNMAPPING: a write faulted it again; it is placed once the unmap is durable. */
        boolean faultedAfterDiscard;
        /** GRANTED: the id of its grant. */
        long grant;

        Chunk(long chunk, State state) {
            this.chunk = chunk;
            this.state = state;
        }

        /** Its place from the allocator, and the fill that place asks for. */
        void placeAt(CowSpace.Placement p) {
            place = p.place();
            placedFill = p.fill() == CowSpace.Fill.COPY ? Protocol.FILL_COPY : Protocol.FILL_ZERO;
        }

        /** What its commit makes durable: its place, or, discarded, its unmap. */
        CowSpace.Mapping mapping() {
            return new CowSpace.Mapping(chunk, state == State.UNMAPPING ? CowSpace.UNMAPPED : place);
        }
    }

    private final Map<Long, Chunk> chunks = new HashMap<>();
    /**
     * Chunks set FILLED, in order, for the next commit: no scan of every chunk per commit. Some
     * may have moved on or been removed since: the commit skips those.
     */
    private final ArrayDeque<Chunk> filled = new ArrayDeque<>();
    /** Likewise for chunks set DISCARDED: unmaps for the next commit. */
    private final ArrayDeque<Chunk> discarded = new ArrayDeque<>();
    private final int[] counts = new int[State.values().length];

    Chunk get(long chunk) {
        return chunks.get(chunk);
    }

    /** Read freely; changed only through {@link #add}, {@link #remove}, {@link #set}. */
    Collection<Chunk> values() {
        return chunks.values();
    }

    void add(Chunk c) {
        Chunk old = chunks.put(c.chunk, c);
        if (old != null) {
            counts[old.state.ordinal()]--;
        }
        counts[c.state.ordinal()]++;
        queueForCommit(c, c.state);
    }

    void remove(long chunk) {
        Chunk c = chunks.remove(chunk);
        if (c != null) {
            counts[c.state.ordinal()]--;
        }
    }

    /** Sets the state of {@code c}, which may have been removed meanwhile (then only {@code c} changes). */
    void set(Chunk c, State s) {
        if (chunks.get(c.chunk) == c) {
            counts[c.state.ordinal()]--;
            counts[s.ordinal()]++;
        }
        if (s != c.state) {
            queueForCommit(c, s);
        }
        c.state = s;
    }

    private void queueForCommit(Chunk c, State s) {
        if (s == State.FILLED) {
            filled.add(c);
        } else if (s == State.DISCARDED) {
            discarded.add(c);
        }
    }

    /** At most this many chunks are FILLED or DISCARDED for the next commit. */
    int toCommitQueued() {
        return filled.size() + discarded.size();
    }

    /**
     * The next chunk set FILLED or DISCARDED since the last call, or null; it may be in that state
     * no more. Unmaps first, so a write waiting for its chunk's unmap is not held up behind fills.
     */
    Chunk pollToCommit() {
        Chunk c = discarded.poll();
        return c != null ? c : filled.poll();
    }

    /**
     * Chunks waiting for the daemon itself (placement or commit): what backpressure bounds. MAPPED
     * chunks wait for the kernel's FILLED, which must still be read, or the stream would deadlock;
     * granted ones are not written yet.
     */
    int ownWork() {
        return chunks.size() - counts[State.COMMITTED.ordinal()] - counts[State.MAPPED.ordinal()]
                - counts[State.UNMAPPED.ordinal()] - counts[State.GRANT_PLACING.ordinal()]
                - counts[State.GRANTED.ordinal()];
    }

    /** Faults not mapped yet. */
    long unmapped() {
        return count(State.WAITING) + count(State.PLACING) + count(State.PLACED);
    }

    /** Chunks a commit is to make durable: FILLED ones' places, DISCARDED ones' unmaps. */
    long awaitingCommit() {
        return count(State.FILLED) + count(State.DISCARDED);
    }

    /** Chunks a table reload lets the kernel forget: COMMITTED (mapped segments), UNMAPPED (cow segments). */
    long awaitingReload() {
        return count(State.COMMITTED) + count(State.UNMAPPED);
    }

    long count(State s) {
        return counts[s.ordinal()];
    }
}
