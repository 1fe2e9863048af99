/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.List;
import java.util.function.Consumer;
import org.dmcow.config.VolumeConfig;
import org.dmcow.daemon.ChunkTable.Chunk;
import org.dmcow.daemon.ChunkTable.State;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.Protocol;
import org.slf4j.Logger;

/**
 * A volume's chunks from fault to FILLED: the kernel's messages, placement, MAP, and backpressure
 * on the control stream; then {@link CommitGroups} takes them ({@link Discards} the discarded
 * ones). Kernel replies go to {@link KernelReplies}, what the allocator is to do to
 * {@link AllocatorRequests}, which the volume sends after each message. Not an actor: the volume
 * decides when (its lifecycle), this what.
 */
final class FaultPath {
    /** The errno a refused fault gets: the kernel fails the writes waiting on it. */
    static final int EIO = 5;

    private final VolumeConfig config;
    private final int maxInFlight;
    private final VolumeLedger ledger;
    private final ChunkTable chunks;
    private final KernelReplies replies;
    private final Logger log;
    private final AllocatorRequests requests;
    private final CommitGroups commits;
    private final Discards discards;
    private final GrantPolicy grants;
    /** The daemon is stopping: new faults wait in the kernel for the next daemon's replay. */
    private boolean faultsLeftToKernel;

    FaultPath(VolumeConfig config, int maxInFlight, int grantWindow, VolumeLedger ledger, KernelReplies replies,
            AllocatorRequests requests, CommitGroups commits, Logger log) {
        this.config = config;
        this.maxInFlight = maxInFlight;
        this.ledger = ledger;
        this.chunks = ledger.chunks;
        this.replies = replies;
        this.requests = requests;
        this.commits = commits;
        this.log = log;
        this.discards = new Discards(ledger, commits, replies, this::reject);
        this.grants = new GrantPolicy(config.name(), grantWindow, Tuning.MAX_LIVE_GRANTS, config.chunkSectors(), ledger,
                replies, requests, log);
    }

    void leaveFaultsToKernel() {
        faultsLeftToKernel = true;
        grants.stop();
    }

    GrantPolicy grants() {
        return grants;
    }

    void reject(String why) {
        log.warn("volume {}: ignored: {}", config.name(), why);
    }

    // ---- kernel messages

    /**
     * Takes a batch of kernel messages: held and queued in the ledger first, so that if one
     * crashes the actor, the restarted one handles the rest and still acknowledges them.
     */
    void take(List<ControlMessage> messages, Acceptance accepted) {
        ledger.heldAcks.add(accepted);
        ledger.inbox.addAll(messages);
    }

    /** Handles the queued kernel messages; {@code kernelTableMismatch} gets why a VOLUME's table does not fit. */
    void handleInbox(Consumer<String> kernelTableMismatch) {
        for (ControlMessage msg = ledger.inbox.poll(); msg != null; msg = ledger.inbox.poll()) {
            if (msg instanceof ControlMessage.Volume v) {
                String mismatch = kernelVolume(v);
                if (mismatch != null) {
                    kernelTableMismatch.accept(mismatch);
                }
            } else {
                handle(msg);
            }
        }
    }

    /**
     * The kernel's id of this volume, from a VOLUME message; returns why its table does not fit
     * the config (chunk size, volume size), or null.
     */
    private String kernelVolume(ControlMessage.Volume v) {
        ledger.kernelVolume = v.volume();
        if (v.chunkSectors() != config.chunkSectors()) {
            return "the kernel's table has chunk_sectors " + v.chunkSectors() + " but the config says chunk-size = "
                    + config.chunkSize();
        }
        if (ledger.layout != null && v.volumeSectors() != ledger.layout.volumeSectors()) {
            return "the kernel's volume has " + v.volumeSectors() + " sectors but the base has "
                    + ledger.layout.volumeSectors();
        }
        return null;
    }

    /** Every kernel message but VOLUME ({@link #kernelVolume}, whose mismatch degrades the volume). */
    private void handle(ControlMessage msg) {
        if (msg instanceof ControlMessage.VolumeGone) {
            log.info("volume {}: the kernel dropped its last table", config.name());
            ledger.kernelVolume = 0;
            grants.kernelVolumeGone();
        } else if (msg instanceof ControlMessage.Fault f) {
            fault(f);
        } else if (msg instanceof ControlMessage.Granted g) {
            granted(g);
        } else if (msg instanceof ControlMessage.Filled f) {
            filled(f);
        } else if (msg instanceof ControlMessage.Discard d) {
            discards.discard(d, volumeChunks());
        } else if (msg instanceof ControlMessage.Flush f) {
            ledger.flushWanted = Math.max(ledger.flushWanted, f.fillSeq());
            commits.commitNow();
        } else if (msg instanceof ControlMessage.Grant g && g.kind() == ControlMessage.Grant.Kind.GRANT_LIVE) {
            grants.grantLive(g);
        } else if (msg instanceof ControlMessage.Grant g && g.kind() == ControlMessage.Grant.Kind.REVOKED) {
            grants.revoked(g);
        } else if (msg instanceof ControlMessage.GrantLow) {
            grants.low();
        } else {
            reject("unexpected message from the kernel: " + msg);
        }
    }

    /** Acknowledges kernel messages while the volume holds few enough chunks in flight. */
    void releaseAcks() {
        if (ledger.heldAcks.isEmpty()) {
            return;
        }
        // A degraded or full volume parks its faults but never stops the stream: the others must go on.
        if (ledger.degraded == null && !ledger.full && chunks.ownWork() >= maxInFlight) {
            return;
        }
        while (!ledger.heldAcks.isEmpty()) {
            ledger.heldAcks.poll().accept();
        }
    }

    private void fault(ControlMessage.Fault f) {
        if (faultsLeftToKernel) {
            grants.faultLeftToKernel(chunks.get(f.chunk()));
            return; // the next daemon gets it in the replay
        }
        if (f.chunk() < 0 || f.chunk() >= volumeChunks()) {
            reject("fault " + f.seq() + " on chunk " + f.chunk() + " past the end of the volume");
            replies.send(new ControlMessage.Fail(ledger.kernelVolume, f.seq(), f.chunk(), EIO));
            return;
        }
        Chunk c = chunks.get(f.chunk());
        if (c != null && discards.holdsFault(c, f)) {
            return; // placed once the unmap is durable (CommitGroups.committed)
        }
        c = chunks.get(f.chunk());
        if (c != null && c.state == State.GRANTED && grants.faultedGranted(c)) {
            // its write beat its GRANT (or came after a REVOKE): its slot is its place
            ledger.counters.faults++;
            c.faultSeq = f.seq();
            c.fullWrite = f.fullWrite();
            c.fill = f.fullWrite() ? Protocol.FILL_NONE : c.placedFill;
            sendMap(c);
            return;
        }
        if (c != null && c.state == State.GRANT_PLACING) {
            grants.faultedGranted(c); // placed as this fault when its place comes
            ledger.counters.faults++;
            c.faultSeq = f.seq();
            c.fullWrite = f.fullWrite();
            return;
        }
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
        ledger.counters.faults++;
        c.faultSeq = f.seq();
        c.fullWrite = f.fullWrite();
        chunks.add(c);
        placeNew(c);
    }

    /** A WAITING chunk asks for a place, unless the volume parks new chunks. */
    void placeNew(Chunk c) {
        // a full space parks new chunks (SpaceWatch tries one a tick), unless they fail at once
        if (ledger.degraded == null && ledger.spaceOpen() && !faultsLeftToKernel
                && (!ledger.full || ledger.failingNewChunks)) {
            requestPlace(c);
        }
    }

    private long volumeChunks() {
        return ledger.layout == null ? Long.MAX_VALUE
                : (ledger.layout.volumeSectors() + config.chunkSectors() - 1) / config.chunkSectors();
    }

    /** A replayed GRANTED: the kernel holds a place an earlier daemon mapped. */
    private void granted(ControlMessage.Granted g) {
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

    private void filled(ControlMessage.Filled f) {
        long place = f.cowSector() * 512;
        Chunk c = chunks.get(f.chunk());
        if (c == null) {
            // replayed FILLED of a chunk an earlier daemon mapped
            c = adoptMapped(f.chunk(), place);
        } else if (c.state == State.GRANTED && c.place == place) {
            grants.written(c); // its first write took its granted slot: no FAULT came
            chunks.set(c, State.MAPPED);
            ledger.mapped++;
        }
        if (c.state != State.MAPPED || c.place != place) {
            reject(c.fillSeq == f.seq() && c.place == place ? "repeated FILLED " + f.seq() + " of chunk " + f.chunk()
                    : "FILLED chunk " + f.chunk() + " at sector " + f.cowSector() + ", which is " + c.state
                            + " at byte " + c.place);
            return;
        }
        chunks.set(c, State.FILLED);
        ledger.counters.fills++;
        if (f.grant() != 0) {
            ledger.counters.grantedFills++;
        }
        c.fillSeq = f.seq();
        // Filled chunks count against max-in-flight: waiting for the tick with half of it filled
        // would stop the stream until then, capping a volume at max-in-flight faults per interval.
        if (c.fillSeq <= ledger.flushWanted || chunks.count(State.FILLED) >= maxInFlight / 2) {
            commits.commitNow();
        }
    }

    private Chunk adoptMapped(long chunk, long place) {
        Chunk c = new Chunk(chunk, State.MAPPED);
        c.place = place;
        chunks.add(c);
        ledger.mapped++;
        if (ledger.spaceOpen()) {
            requests.add(new Allocator.Adopt(c.chunk, c.place));
        }
        return c;
    }

    // ---- placement

    private void requestPlace(Chunk c) {
        chunks.set(c, State.PLACING);
        requests.place(c.chunk);
        grants.faulted(c.chunk); // in the same Place: the GRANT goes out with its MAP
    }

    void placeWaiting() {
        if (!ledger.spaceOpen() || faultsLeftToKernel) {
            return;
        }
        // a copy: placing a chunk adds the chunks placed for grants to the table
        List<Chunk> waiting = chunks.values().stream().filter(c -> c.state == State.WAITING).toList();
        waiting.forEach(this::requestPlace);
    }

    /** The first waiting chunk tries for a place: whether a full space has room again. */
    void placeOneWaiting() {
        if (!ledger.spaceOpen() || faultsLeftToKernel || ledger.degraded != null) {
            return;
        }
        for (Chunk c : chunks.values()) {
            if (c.state == State.WAITING) {
                requestPlace(c);
                return;
            }
        }
    }

    /** Every waiting chunk's writes fail with {@code errno}; returns how many chunks. */
    int failWaiting(int errno) {
        List<Chunk> waiting = chunks.values().stream().filter(c -> c.state == State.WAITING).toList();
        for (Chunk c : waiting) {
            replies.send(new ControlMessage.Fail(ledger.kernelVolume, c.faultSeq, c.chunk, errno));
            chunks.remove(c.chunk);
        }
        return waiting.size();
    }

    /**
     * A new allocator is ready: it adopts every place the kernel holds before placing anything
     * new, and what the old one was asked and did not answer is asked again.
     */
    void spaceOpened() {
        discards.spaceOpened(EIO);
        grants.spaceOpened();
        ledger.syncing = false; // a Sync the old allocator did not answer is asked again
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
                commits.sendCommitted(c);
            } else if (c.state == State.PLACING) {
                chunks.set(c, State.WAITING);
            }
        }
    }

    void placed(Allocator.Placed m) {
        for (int i = 0; i < m.chunks().length; i++) {
            placed(m.chunks()[i], m.placements()[i]);
        }
        grants.grantPlaced();
    }

    private void placed(long chunk, CowSpace.Placement placement) {
        Chunk c = chunks.get(chunk);
        if (c == null) {
            requests.add(new Allocator.Release(chunk));
            return;
        }
        if (c.state == State.GRANT_PLACING) {
            grants.placed(c, placement);
            return;
        }
        if (c.state != State.PLACING && c.state != State.WAITING) {
            return; // a repeated answer after an allocator restart
        }
        c.placeAt(placement);
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
     * fault is refused rather than the data overwritten. True when the volume is to degrade or,
     * for SPACE_FULL, to count as full.
     */
    boolean placeFailed(Allocator.PlaceFailed m) {
        Chunk c = chunks.get(m.chunk());
        if (c != null && c.state == State.GRANT_PLACING) {
            grants.placeFailed(c, m);
            return false;
        }
        if (c != null && c.state == State.PLACING) {
            chunks.set(c, State.WAITING);
        }
        boolean committed = m.failure() == Allocator.PlaceFailure.ALREADY_COMMITTED && c != null;
        if (committed && discards.committedChunkFaulted(c)) {
            return false; // unmapped, then placed
        }
        if (committed) {
            replies.send(new ControlMessage.Fail(ledger.kernelVolume, c.faultSeq, c.chunk, EIO));
            chunks.remove(c.chunk);
            reject(m.reason());
            return false;
        }
        return true;
    }
}
