/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.daemon.ChunkTable.Chunk;
import org.dmcow.daemon.ChunkTable.State;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.ControlMessage;

/**
 * A volume's chunks from FILLED on: one commit at a time of every chunk filled meanwhile (a group
 * commit), COMMITTED to the kernel once durable, and FORGET once a table reload serves them
 * by mapped segments. Discarded chunks take the same way: their unmaps join the group, and FORGET
 * follows the reload that serves them by plain cow segments. Not an actor: the allocator requests go to {@link AllocatorRequests}.
 */
final class CommitGroups {
    private final VolumeLedger ledger;
    private final ChunkTable chunks;
    private final KernelReplies replies;
    private final AllocatorRequests requests;

    CommitGroups(VolumeLedger ledger, KernelReplies replies, AllocatorRequests requests) {
        this.ledger = ledger;
        this.chunks = ledger.chunks;
        this.replies = replies;
        this.requests = requests;
    }

    /** Asks for a commit of every FILLED chunk and unmap of every DISCARDED one, unless one runs (another follows it). */
    void commitNow() {
        if (!ledger.spaceOpen() || ledger.committing) {
            return;
        }
        List<CowSpace.Mapping> group = new ArrayList<>(chunks.toCommitQueued());
        boolean dataDurable = true;
        for (Chunk c = chunks.pollToCommit(); c != null; c = chunks.pollToCommit()) {
            if (chunks.get(c.chunk) != c) {
                continue;
            }
            if (c.state == State.FILLED) {
                chunks.set(c, State.COMMITTING);
                group.add(c.mapping());
                dataDurable &= c.fillSeq <= ledger.flushWanted;
            } else if (c.state == State.DISCARDED) {
                chunks.set(c, State.UNMAPPING);
                group.add(c.mapping());
            }
        }
        if (group.isEmpty()) {
            return;
        }
        ledger.committing = true;
        ledger.counters.commitStarted = System.nanoTime();
        requests.add(new Allocator.Commit(group, dataDurable));
    }

    /** Returns the chunks whose unmap is durable and that a write faulted again meanwhile: now WAITING for a place. */
    List<Chunk> committed(Allocator.Committed m) {
        ledger.committing = false;
        ledger.counters.committed(System.nanoTime());
        ledger.lastCommit = Instant.now();
        List<Chunk> faultedAgain = new ArrayList<>();
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = chunks.get(x.volumeChunk());
            if (c != null && c.state == State.COMMITTING && c.place == x.place()) {
                chunks.set(c, State.DURABLE);
            } else if (c != null && c.state == State.UNMAPPING && x.place() == CowSpace.UNMAPPED) {
                ledger.counters.unmaps++;
                if (c.faultedAfterDiscard) {
                    c.faultedAfterDiscard = false;
                    c.place = -1;
                    chunks.set(c, State.WAITING);
                    faultedAgain.add(c);
                } else {
                    chunks.set(c, State.UNMAPPED);
                }
            }
        }
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = chunks.get(x.volumeChunk());
            if (c != null && c.state == State.DURABLE) {
                sendCommitted(c);
            }
        }
        return faultedAgain;
    }

    /** Tells the kernel {@code c} is durable: it serves it by its remap until a reload puts it in a mapped segment. */
    void sendCommitted(Chunk c) {
        replies.send(new ControlMessage.Committed(ledger.kernelVolume, c.chunk));
        chunks.set(c, State.COMMITTED);
        ledger.committed++;
    }

    /** The group is FILLED again, for a later commit. */
    void commitFailed(Allocator.CommitFailed m) {
        ledger.committing = false;
        ledger.counters.commitFailures++;
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = chunks.get(x.volumeChunk());
            if (c != null && c.state == State.COMMITTING) {
                chunks.set(c, State.FILLED);
            } else if (c != null && c.state == State.UNMAPPING) {
                chunks.set(c, State.DISCARDED);
            }
        }
    }

    /**
     * The chunks a reload with the committed runs puts in mapped segments, and the unmapped ones it
     * serves by plain cow segments: the kernel may forget them.
     */
    List<Long> chunksToForget() {
        List<Long> out = new ArrayList<>();
        for (Chunk c : chunks.values()) {
            if (c.state == State.COMMITTED || c.state == State.UNMAPPED) {
                out.add(c.chunk);
            }
        }
        return out;
    }

    /** FORGETs the chunks the new table serves by mapped segments; returns how many wait for the next reload. */
    int forget(TableReloader.Reloaded m) {
        // Without a kernel volume there are no remaps to forget (a FORGET would be refused as one
        // for an unknown volume).
        boolean kernelRemaps = ledger.kernelVolume != 0;
        int waiting = 0;
        for (long chunk : m.forget()) {
            Chunk c = chunks.get(chunk);
            if (c == null || c.state != State.COMMITTED && c.state != State.UNMAPPED) {
                continue; // an unmapped chunk written again since: it faulted, the kernel holds it
            }
            if (!kernelRemaps) {
                chunks.remove(chunk);
                continue;
            }
            // a chunk whose FORGET finds the reply queue full stays COMMITTED (or UNMAPPED): the
            // next reload forgets it (the kernel serves it from its remap, or the base, until then)
            if (waiting == 0 && replies.offer(new ControlMessage.Forget(ledger.kernelVolume, chunk))) {
                chunks.remove(chunk);
            } else {
                waiting++;
            }
        }
        return waiting;
    }
}
