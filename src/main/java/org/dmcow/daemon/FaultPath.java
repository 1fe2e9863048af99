/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.dmcow.config.VolumeConfig;
import org.dmcow.daemon.ChunkTable.Chunk;
import org.dmcow.daemon.ChunkTable.State;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.Protocol;
import org.slf4j.Logger;

/**
 * A volume's chunks from fault to commit: placement, MAP, FILLED, commit groups, COMMITTED and
 * FORGET. Kernel replies go to {@link KernelReplies}; what the allocator is to do is returned by
 * {@link #takeRequests}, for the volume actor to send after each message. No actor of its own:
 * the volume decides when (its lifecycle), this decides what.
 */
final class FaultPath {
    /** The errno a refused fault gets: the kernel fails the writes waiting on it. */
    static final int EIO = 5;

    private final VolumeConfig config;
    private final Volume.Settings settings;
    private final VolumeLedger ledger;
    private final ChunkTable chunks;
    private final KernelReplies replies;
    private final Logger log;
    private final List<Allocator.Command> requests = new ArrayList<>();
    /** Chunks set PLACING while handling a message: asked for in one Place after it. */
    private long[] toPlace = new long[64];
    private int toPlaceCount;
    /** The daemon is stopping: new faults wait in the kernel for the next daemon's replay. */
    private boolean faultsLeftToKernel;

    FaultPath(VolumeConfig config, Volume.Settings settings, VolumeLedger ledger, KernelReplies replies, Logger log) {
        this.config = config;
        this.settings = settings;
        this.ledger = ledger;
        this.chunks = ledger.chunks;
        this.replies = replies;
        this.log = log;
    }

    /** The allocator requests since the last call, in order, and last one Place for all chunks set PLACING. */
    List<Allocator.Command> takeRequests() {
        if (toPlaceCount > 0) {
            requests.add(new Allocator.Place(Arrays.copyOf(toPlace, toPlaceCount)));
            toPlaceCount = 0;
        }
        List<Allocator.Command> out = List.copyOf(requests);
        requests.clear();
        return out;
    }

    /** Queues a request of the volume's own behind those of the fault path. */
    void request(Allocator.Command c) {
        requests.add(c);
    }

    void leaveFaultsToKernel() {
        faultsLeftToKernel = true;
    }

    void reject(String why) {
        log.warn("volume {}: ignored: {}", config.name(), why);
    }

    // ---- kernel messages

    void fault(ControlMessage.Fault f) {
        if (faultsLeftToKernel) {
            return; // the next daemon gets it in the replay
        }
        if (f.chunk() < 0 || f.chunk() >= volumeChunks()) {
            reject("fault " + f.seq() + " on chunk " + f.chunk() + " past the end of the volume");
            replies.send(new ControlMessage.Fail(ledger.kernelVolume, f.seq(), f.chunk(), EIO));
            return;
        }
        Chunk c = chunks.get(f.chunk());
        if (c != null && c.state == State.MAPPED && c.faultSeq != f.seq()) {
            // the fill failed: the kernel dropped the grant and faults again; the place is still ours
            log.warn("volume {}: chunk {} faulted again (seq {}) after its fill failed; mapping it to the same place",
                    config.name(), f.chunk(), f.seq());
            c.faultSeq = f.seq();
            c.fullWrite = f.fullWrite();
            chunks.set(c, State.PLACED);
            c.fill = f.fullWrite() ? Protocol.FILL_NONE : c.placedFill;
            sendMap(c);
            ledger.mapped--; // counted once per chunk
            return;
        }
        if (c != null) {
            reject(c.faultSeq == f.seq() ? "repeated fault " + f.seq() + " on chunk " + f.chunk()
                    : "fault " + f.seq() + " on chunk " + f.chunk() + ", which is already " + c.state);
            return;
        }
        c = new Chunk(f.chunk(), State.WAITING);
        c.faultSeq = f.seq();
        c.fullWrite = f.fullWrite();
        chunks.add(c);
        if (ledger.degraded == null && ledger.allocatorReady) {
            requestPlace(c);
        }
    }

    private long volumeChunks() {
        return ledger.layout == null ? Long.MAX_VALUE
                : (ledger.layout.volumeSectors() + config.chunkSectors() - 1) / config.chunkSectors();
    }

    /** A replayed GRANTED: the kernel holds a place an earlier daemon mapped. */
    void granted(ControlMessage.Granted g) {
        long place = g.cowSector() * 512;
        Chunk c = chunks.get(g.chunk());
        if (c != null) {
            if (c.place != place) {
                reject("GRANTED chunk " + g.chunk() + " at sector " + g.cowSector() + ", which is " + c.state
                        + " at byte " + c.place);
            }
            return;
        }
        adoptMapped(g.chunk(), place);
    }

    void filled(ControlMessage.Filled f) {
        long place = f.cowSector() * 512;
        Chunk c = chunks.get(f.chunk());
        if (c == null) {
            // replayed FILLED of a chunk an earlier daemon mapped
            c = adoptMapped(f.chunk(), place);
        }
        if (c.state != State.MAPPED || c.place != place) {
            reject(c.fillSeq == f.seq() && c.place == place ? "repeated FILLED " + f.seq() + " of chunk " + f.chunk()
                    : "FILLED chunk " + f.chunk() + " at sector " + f.cowSector() + ", which is " + c.state
                            + " at byte " + c.place);
            return;
        }
        chunks.set(c, State.FILLED);
        c.fillSeq = f.seq();
        // Filled chunks count against max-in-flight: waiting for the tick with half of it filled
        // would stop the stream until then, capping a volume at max-in-flight faults per interval.
        if (c.fillSeq <= ledger.flushWanted || chunks.count(State.FILLED) >= settings.maxInFlight() / 2) {
            commitNow();
        }
    }

    private Chunk adoptMapped(long chunk, long place) {
        Chunk c = new Chunk(chunk, State.MAPPED);
        c.place = place;
        chunks.add(c);
        ledger.mapped++;
        if (ledger.allocatorReady) {
            requests.add(new Allocator.Adopt(c.chunk, c.place));
        }
        return c;
    }

    void flush(ControlMessage.Flush f) {
        ledger.flushWanted = Math.max(ledger.flushWanted, f.fillSeq());
        commitNow();
    }

    // ---- placement

    private void requestPlace(Chunk c) {
        chunks.set(c, State.PLACING);
        if (toPlaceCount == toPlace.length) {
            toPlace = Arrays.copyOf(toPlace, 2 * toPlaceCount);
        }
        toPlace[toPlaceCount++] = c.chunk;
    }

    void placeWaiting() {
        if (!ledger.allocatorReady || faultsLeftToKernel) {
            return;
        }
        for (Chunk c : chunks.values()) {
            if (c.state == State.WAITING) {
                requestPlace(c);
            }
        }
    }

    /**
     * A new allocator is ready: it adopts every place the kernel holds before placing anything
     * new, and what the old one was asked and did not answer is asked again.
     */
    void allocatorReady() {
        for (Chunk c : chunks.values()) {
            if (c.place >= 0 && c.state.compareTo(State.DURABLE) < 0) {
                requests.add(new Allocator.Adopt(c.chunk, c.place));
            }
        }
        requests.add(Allocator.AdoptionDone.INSTANCE);
        for (Chunk c : chunks.values()) {
            if (c.state == State.PLACED) {
                sendMap(c);
            } else if (c.state == State.DURABLE) {
                sendCommitted(c);
            } else if (c.state == State.PLACING) {
                chunks.set(c, State.WAITING);
            }
        }
    }

    void placed(Allocator.Placed m) {
        for (int i = 0; i < m.chunks().length; i++) {
            placed(m.chunks()[i], m.placements()[i]);
        }
    }

    private void placed(long chunk, CowSpace.Placement placement) {
        Chunk c = chunks.get(chunk);
        if (c == null) {
            requests.add(new Allocator.Release(chunk));
            return;
        }
        if (c.state != State.PLACING && c.state != State.WAITING) {
            return; // a repeated answer after an allocator restart
        }
        c.place = placement.place();
        c.placedFill = placement.fill() == CowSpace.Fill.COPY ? Protocol.FILL_COPY : Protocol.FILL_ZERO;
        c.fill = c.fullWrite ? Protocol.FILL_NONE : c.placedFill;
        chunks.set(c, State.PLACED);
        sendMap(c);
    }

    private void sendMap(Chunk c) {
        replies.send(new ControlMessage.Map(ledger.kernelVolume, c.faultSeq, c.chunk, c.place / 512, c.fill));
        chunks.set(c, State.MAPPED);
        ledger.mapped++;
    }

    /**
     * The chunk waits for placement again, unless the space has it committed already: then its
     * fault is refused rather than the data overwritten. True when the volume is to degrade.
     */
    boolean placeFailed(Allocator.PlaceFailed m) {
        Chunk c = chunks.get(m.chunk());
        if (c != null && c.state == State.PLACING) {
            chunks.set(c, State.WAITING);
        }
        if (m.failure() == Allocator.PlaceFailure.ALREADY_COMMITTED && c != null) {
            replies.send(new ControlMessage.Fail(ledger.kernelVolume, c.faultSeq, c.chunk, EIO));
            chunks.remove(c.chunk);
            reject(m.reason());
            return false;
        }
        return true;
    }

    // ---- commits

    /** Asks for a commit of every FILLED chunk, unless one runs (another follows it). */
    void commitNow() {
        if (!ledger.allocatorReady || ledger.committing) {
            return;
        }
        List<CowSpace.Mapping> group = new ArrayList<>(chunks.filledQueued());
        boolean dataDurable = true;
        for (Chunk c = chunks.pollFilled(); c != null; c = chunks.pollFilled()) {
            if (c.state == State.FILLED && chunks.get(c.chunk) == c) {
                chunks.set(c, State.COMMITTING);
                group.add(c.mapping());
                dataDurable &= c.fillSeq <= ledger.flushWanted;
            }
        }
        if (group.isEmpty()) {
            return;
        }
        ledger.committing = true;
        requests.add(new Allocator.Commit(group, dataDurable));
    }

    void committed(Allocator.Committed m) {
        ledger.committing = false;
        ledger.usage = m.usage();
        ledger.lastCommit = Instant.now();
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = chunks.get(x.volumeChunk());
            if (c != null && c.state == State.COMMITTING && c.place == x.place()) {
                chunks.set(c, State.DURABLE);
            }
        }
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = chunks.get(x.volumeChunk());
            if (c != null && c.state == State.DURABLE) {
                sendCommitted(c);
            }
        }
    }

    private void sendCommitted(Chunk c) {
        replies.send(new ControlMessage.Committed(ledger.kernelVolume, c.chunk));
        chunks.set(c, State.COMMITTED);
        ledger.committed++;
    }

    /** The group is FILLED again, for a later commit. */
    void commitFailed(Allocator.CommitFailed m) {
        ledger.committing = false;
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = chunks.get(x.volumeChunk());
            if (c != null && c.state == State.COMMITTING) {
                chunks.set(c, State.FILLED);
            }
        }
    }

    // ---- after a table reload

    /** The chunks a reload with the committed runs makes linear: the kernel may forget their remaps. */
    List<Long> committedChunks() {
        List<Long> out = new ArrayList<>();
        for (Chunk c : chunks.values()) {
            if (c.state == State.COMMITTED) {
                out.add(c.chunk);
            }
        }
        return out;
    }

    /** FORGETs the chunks the new table serves linearly; returns how many wait for the next reload. */
    int forget(TableReloader.Reloaded m) {
        // A table without cow segments ends the kernel's volume and its remaps with it: nothing to
        // forget there (a FORGET would be refused as one for an unknown volume).
        boolean kernelRemaps = m.cowLeft() && ledger.kernelVolume != 0;
        int waiting = 0;
        for (long chunk : m.forget()) {
            Chunk c = chunks.get(chunk);
            if (c == null || c.state != State.COMMITTED) {
                continue;
            }
            if (!kernelRemaps) {
                chunks.remove(chunk);
                continue;
            }
            // a chunk whose FORGET finds the reply queue full stays COMMITTED: the next reload
            // forgets it (the kernel serves it from its remap until then)
            if (waiting == 0 && replies.offer(new ControlMessage.Forget(ledger.kernelVolume, chunk))) {
                chunks.remove(chunk);
            } else {
                waiting++;
            }
        }
        return waiting;
    }

    /** Faults not mapped yet, for status. */
    long pending() {
        return chunks.count(State.WAITING) + chunks.count(State.PLACING) + chunks.count(State.PLACED);
    }
}
