/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.List;
import java.util.function.Consumer;
import org.dmcow.daemon.ChunkTable.Chunk;
import org.dmcow.daemon.ChunkTable.State;
import org.dmcow.protocol.ControlMessage;

/**
 * A volume's chunks discarded whole by the kernel (segments with discard_unmap), on their way to
 * unmapped: DISCARDED until {@link CommitGroups} makes the unmap durable, then UNMAPPED until the
 * reload that FORGETs them. A write after the discard is a FAULT: held while the unmap is on its
 * way, then placed as a new chunk. Not an actor: the {@link FaultPath} hands it these messages.
 */
final class Discards {
    private final VolumeLedger ledger;
    private final ChunkTable chunks;
    private final CommitGroups commits;
    private final KernelReplies replies;
    /** Logs a kernel message that is ignored, with why. */
    private final Consumer<String> reject;

    Discards(VolumeLedger ledger, CommitGroups commits, KernelReplies replies, Consumer<String> reject) {
        this.ledger = ledger;
        this.chunks = ledger.chunks;
        this.commits = commits;
        this.replies = replies;
        this.reject = reject;
    }

    /** A DISCARD: the chunk's unmap goes into the next commit; the replay's repeat of one on its way is ignored. */
    void discard(ControlMessage.Discard d, long volumeChunks) {
        // before the space is open (the replay) whether it unmaps is not known yet: spaceOpened decides
        if (d.chunk() < 0 || d.chunk() >= volumeChunks || ledger.spaceOpen() && !ledger.unmaps) {
            reject.accept("DISCARD of chunk " + d.chunk() + (ledger.unmaps || !ledger.spaceOpen()
                    ? ", past the end of the volume" : ": this volume's format does not unmap chunks"));
            return;
        }
        Chunk c = chunks.get(d.chunk());
        if (c == null) {
            chunks.add(new Chunk(d.chunk(), State.DISCARDED));
        } else if (c.state == State.COMMITTED) {
            chunks.set(c, State.DISCARDED);
        } else if (c.state == State.UNMAPPED) {
            return; // the replay repeats it until FORGET
        } else {
            reject.accept("DISCARD of chunk " + d.chunk() + ", which is " + c.state);
            return;
        }
        ledger.counters.discards++;
        commits.commitNow();
    }

    /**
     * A FAULT of a chunk the daemon tracks, {@code c}: true when it is a write after a discard that
     * waits for the unmap (held here). An UNMAPPED chunk is dropped: its fault is a new chunk's.
     */
    boolean holdsFault(Chunk c, ControlMessage.Fault f) {
        if (c.state == State.COMMITTED && ledger.unmaps) {
            // discarded, its DISCARD replaced by this FAULT before it was read
            unmapThenPlace(c);
        }
        if (c.state == State.DISCARDED || c.state == State.UNMAPPING) {
            ledger.counters.faults++;
            c.faultSeq = f.seq();
            c.fullWrite = f.fullWrite();
            c.faultedAfterDiscard = true;
            return true;
        }
        if (c.state == State.UNMAPPED) {
            chunks.remove(c.chunk); // its old place stays quarantined in the space
        }
        return false;
    }

    /**
     * The allocator found a faulted chunk committed: for a space that unmaps, the kernel discarded
     * it (the DISCARD replaced before it was read, or sent to an earlier daemon), so it is
     * unmapped, then placed; true if so.
     */
    boolean committedChunkFaulted(Chunk c) {
        if (!ledger.unmaps) {
            return false;
        }
        unmapThenPlace(c);
        return true;
    }

    private void unmapThenPlace(Chunk c) {
        c.faultedAfterDiscard = true;
        chunks.set(c, State.DISCARDED);
        ledger.counters.discards++;
        commits.commitNow();
    }

    /**
     * The space opened: DISCARDs taken before, for a format that does not unmap, are refused (the
     * kernel sends none for its segments); a write waiting on one fails with {@code errno}.
     */
    void spaceOpened(int errno) {
        if (ledger.unmaps) {
            return;
        }
        List<Chunk> discarded = chunks.values().stream().filter(c -> c.state == State.DISCARDED).toList();
        for (Chunk c : discarded) {
            reject.accept("DISCARD of chunk " + c.chunk + ": this volume's format does not unmap chunks");
            if (c.faultedAfterDiscard) {
                replies.send(new ControlMessage.Fail(ledger.kernelVolume, c.faultSeq, c.chunk, errno));
            }
            chunks.remove(c.chunk);
        }
    }
}
