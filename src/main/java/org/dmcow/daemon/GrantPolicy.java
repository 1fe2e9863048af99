/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.dmcow.daemon.ChunkTable.Chunk;
import org.dmcow.daemon.ChunkTable.State;
import org.dmcow.format.CowSpace;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.Protocol;
import org.slf4j.Logger;

/**
 * A volume's grants (protocol 4): its allocation decisions made before the guest writes, so that a
 * first write fills with no FAULT and no round trip. Not an actor: {@link FaultPath} calls it.
 *
 * <pre>
 *  a FAULT in window w (aligned, {@code window} chunks) ──▶ w (w..w+3 if w-1 was): their
 *  a granted write in window w ──▶ windows w+1..w+3          chunks with no state are placed
 *  GRANT_LOW ──▶ the window after the last granted write      (GRANT_PLACING), each window once
 *      placed ──▶ GRANTED: runs contiguous in the volume and the space go out as GRANTs
 *      FILLED naming the grant ──▶ MAPPED, then FILLED, committed as any MAPped chunk
 *      every chunk of a grant written ──▶ REVOKE (it frees the kernel's slot for grants)
 *      full, degraded or warned space ──▶ REVOKE every grant; REVOKED ──▶ unwritten chunks released
 * </pre>
 *
 * A granted chunk's place is reserved in the allocator like a MAPped one's and never reaches the
 * metadata before its FILLED is committed: after a crash an unwritten slot is simply free. A new
 * daemon learns the live grants from GRANT_LIVE and adopts their unwritten slots before anything
 * is placed, so no slot is handed out twice.
 */
final class GrantPolicy {
    private final String volume;
    private final int window;
    private final int maxLive;
    private final int chunkSectors;
    private final VolumeLedger ledger;
    private final ChunkTable chunks;
    private final KernelReplies replies;
    private final AllocatorRequests requests;
    private final Logger log;
    private final LiveGrants grants;
    private final Map<Long, LiveGrants.Live> live;
    /** Chunks placed for grants by the Placed being handled. */
    private final List<Chunk> toGrant = new ArrayList<>();
    /** The daemon is stopping: no new grants (the live ones stay with the kernel). */
    private boolean stopped;

    GrantPolicy(String volume, int window, int maxLive, int chunkSectors, VolumeLedger ledger, KernelReplies replies,
            AllocatorRequests requests, Logger log) {
        if (window < 0 || window > Protocol.MAX_GRANT_CHUNKS) {
            throw new IllegalArgumentException("a grant window of " + window + " chunks: 0 to "
                    + Protocol.MAX_GRANT_CHUNKS);
        }
        this.volume = volume;
        this.window = window;
        this.maxLive = maxLive;
        this.chunkSectors = chunkSectors;
        this.ledger = ledger;
        this.chunks = ledger.chunks;
        this.grants = ledger.grants;
        this.live = grants.byId;
        this.replies = replies;
        this.requests = requests;
        this.log = log;
    }

    void stop() {
        stopped = true;
    }

    /** Live grants, for the status. */
    int liveGrants() {
        return live.size();
    }

    // ---- offering windows

    /**
     * Windows granted beyond the one written: a sequential writer has up to its queue depth of
     * chunks in flight (fio's 8 x 1 MiB: two windows of 64 KiB chunks), so the next window is
     * already written by the time its grant could come; three ahead it is not. In a space that
     * grows itself (qcow2) a granted cluster is counted when placed, so a power cut leaks the
     * unwritten ones (about 280 clusters a cut); the next daemon frees them when it creates the
     * device ({@link org.dmcow.format.CowSpace#reclaimLeaks}). After a daemon kill the kernel
     * replays them and they are adopted.
     */
    static final int LOOKAHEAD = 3;

    /**
     * A faulted chunk is being placed: its window is granted, and the next ones when the window
     * before it was too (a writer moving on): a volume written once in one place, as 256 guests'
     * first megabyte, keeps one window of granted chunks, not four.
     */
    void faulted(long chunk) {
        long w = window == 0 ? 0 : chunk / window;
        int ahead = w > 0 && grants.offered.get((int) w - 1) ? LOOKAHEAD : 0;
        for (int k = 0; k <= ahead; k++) {
            offer(chunk + (long) k * window);
        }
    }

    /** Whether new grants may be made now. */
    private boolean mayGrant() {
        return window > 0 && !stopped && ledger.spaceOpen() && ledger.degraded == null && !ledger.full
                && ledger.warnedLevel == 0 && ledger.kernelVolume != 0 && live.size() < maxLive && roomToGrant();
    }

    /**
     * A space with room for every chunk of the volume cannot run out; in a smaller one granted
     * places, a window more, stay within half the free chunks (which the last commit counted
     * without the places reserved then), so that faults find room. A space that grows itself
     * (qcow2) has none to measure: the allocator's check of the host's room refuses places there.
     */
    private boolean roomToGrant() {
        CowSpace.SpaceUsage u = ledger.usage;
        long reserved = chunks.count(State.GRANTED) + chunks.count(State.GRANT_PLACING);
        return ledger.spaceGrowsItself || u.usedChunks() + u.freeChunks() >= volumeChunks()
                || reserved + window <= u.freeChunks() / 2;
    }

    /** Places the unplaced chunks of the window of {@code chunk}, once, for a grant. */
    private void offer(long chunk) {
        if (chunk < 0 || !mayGrant()) {
            return;
        }
        int w = (int) (chunk / window);
        if (grants.offered.get(w)) {
            return;
        }
        grants.offered.set(w);
        long end = Math.min((long) (w + 1) * window, volumeChunks());
        for (long x = (long) w * window; x < end; x++) {
            if (chunks.get(x) == null) {
                chunks.add(new Chunk(x, State.GRANT_PLACING));
                requests.place(x);
            }
        }
    }

    private long volumeChunks() {
        return ledger.layout == null ? 0 : (ledger.layout.volumeSectors() + chunkSectors - 1) / chunkSectors;
    }

    // ---- placement answers

    /** A GRANT_PLACING chunk got its place: granted once the whole Placed is read ({@link #grantPlaced}). */
    void placed(Chunk c, CowSpace.Placement p) {
        c.placeAt(p);
        toGrant.add(c);
    }

    /** A GRANT_PLACING chunk got no place (committed already, or no room): it is simply not granted. */
    void placeFailed(Chunk c, Allocator.PlaceFailed m) {
        chunks.remove(c.chunk);
        if (m.failure() == Allocator.PlaceFailure.IO) {
            log.warn("volume {}: no place to grant chunk {}: {}", volume, c.chunk, m.reason());
        }
    }

    /** Sends the chunks placed for grants as GRANTs of runs contiguous in the volume and the space. */
    void grantPlaced() {
        if (toGrant.isEmpty()) {
            return;
        }
        toGrant.sort(Comparator.comparingLong(c -> c.chunk));
        int start = 0;
        for (int i = 1; i <= toGrant.size(); i++) {
            if (i == toGrant.size() || !continues(toGrant.get(i - 1), toGrant.get(i), i - start)) {
                grant(toGrant.subList(start, i));
                start = i;
            }
        }
        toGrant.clear();
    }

    private boolean continues(Chunk prev, Chunk next, int runLength) {
        return next.chunk == prev.chunk + 1 && next.place == prev.place + (long) chunkSectors * 512
                && next.placedFill == prev.placedFill && runLength < Protocol.MAX_GRANT_CHUNKS;
    }

    private void grant(List<Chunk> run) {
        // their room was measured when their window was offered
        if (stopped || ledger.kernelVolume == 0 || ledger.degraded != null || live.size() >= maxLive) {
            run.forEach(this::release);
            return;
        }
        long id = grants.nextId++;
        Chunk first = run.get(0);
        LiveGrants.Live g = new LiveGrants.Live(first.chunk, run.size());
        g.unwritten = run.size();
        live.put(id, g);
        for (Chunk c : run) {
            c.grant = id;
            chunks.set(c, State.GRANTED);
        }
        ledger.counters.grants++;
        replies.send(new ControlMessage.Grant(ControlMessage.Grant.Kind.GRANT, ledger.kernelVolume, id, first.chunk,
                first.place / 512, run.size(), first.placedFill, new BitSet()));
    }

    private void release(Chunk c) {
        requests.add(new Allocator.Release(c.chunk));
        chunks.remove(c.chunk);
    }

    // ---- the kernel's side

    /**
     * A FAULT of a chunk placed for a grant: its write came first. GRANT_PLACING: it is placed as
     * a fault (returns false: the caller takes it as a new one); GRANTED: its slot is its place,
     * MAPped there (true), which the kernel's grant has marked used or no longer holds.
     */
    boolean faultedGranted(Chunk c) {
        if (c.state == State.GRANT_PLACING) {
            chunks.set(c, State.PLACING);
            return false;
        }
        written(c);
        return true;
    }

    /**
     * A stopping daemon leaves a FAULT to the next one, which places the chunk anew: a GRANTED
     * chunk's place (its slot, taken by the fault at GRANT) is released.
     */
    void faultLeftToKernel(Chunk c) {
        if (c != null && c.state == State.GRANTED) {
            LiveGrants.Live g = live.get(c.grant);
            if (g != null) {
                g.unwritten--;
            }
            release(c);
        }
    }

    /** A refused removal: the volume serves again, and grants with it. */
    void resume() {
        stopped = false;
    }

    /** A GRANTED chunk was written: FILLED (or a FAULT) came; the next window may be granted. */
    void written(Chunk c) {
        LiveGrants.Live g = live.get(c.grant);
        if (g != null && --g.unwritten == 0) {
            revoke(c.grant, g);
        }
        grants.lastGrantedWrite = c.chunk;
        for (int k = 1; k <= LOOKAHEAD; k++) {
            offer(c.chunk + (long) k * window); // a sequential writer meets the next windows granted
        }
    }

    /** The kernel's free granted slots ran low. */
    void low() {
        if (grants.lastGrantedWrite >= 0 && window > 0) {
            offer(grants.lastGrantedWrite + window);
        }
    }

    /** Replay: a grant an earlier daemon made; its unwritten slots are reserved again. */
    void grantLive(ControlMessage.Grant m) {
        grants.nextId = Math.max(grants.nextId, m.id() + 1);
        LiveGrants.Live g = new LiveGrants.Live(m.firstChunk(), m.count());
        live.put(m.id(), g);
        for (int i = 0; i < m.count(); i++) {
            long chunk = m.firstChunk() + i;
            if (m.used().get(i) || chunks.get(chunk) != null) {
                continue; // written: its GRANTED or FILLED comes, or came
            }
            Chunk c = new Chunk(chunk, State.GRANTED);
            c.place = (m.cowSector() + (long) i * chunkSectors) * 512;
            c.placedFill = m.fill();
            c.grant = m.id();
            chunks.add(c);
            g.unwritten++;
            if (ledger.spaceOpen()) {
                requests.add(new Allocator.Adopt(c.chunk, c.place));
            }
        }
        if (window > 0) {
            grants.offered.set((int) (m.firstChunk() / window),
                    (int) ((m.firstChunk() + m.count() - 1) / window) + 1);
        }
        if (g.unwritten == 0) {
            revoke(m.id(), g);
        }
    }

    /** REVOKED: the unwritten chunks of the grant are released; a written one's FILLED comes. */
    void revoked(ControlMessage.Grant m) {
        LiveGrants.Live g = live.remove(m.id());
        if (g == null) {
            return;
        }
        for (int i = 0; i < g.count; i++) {
            Chunk c = chunks.get(g.first + i);
            if (c != null && c.state == State.GRANTED && c.grant == m.id() && !(m.count() > 0 && m.used().get(i))) {
                release(c);
                if (window > 0) {
                    grants.offered.clear((int) (c.chunk / window));
                }
            }
        }
    }

    /** Every grant goes back when the space must not hand out more ahead of the guest. */
    void revokeAllIfStopping() {
        if (live.isEmpty() || ledger.degraded == null && !ledger.full && ledger.warnedLevel == 0) {
            return;
        }
        revokeAll();
    }

    /**
     * A stop or removal: no new grants, every live one revoked. True once none is left and no
     * chunk is placed or granted for one: their places are released (a clean stop leaves a clean
     * space; a qcow2 file would otherwise keep the clusters of unwritten granted chunks).
     */
    boolean returnedForShutdown() {
        stopped = true;
        if (ledger.kernelVolume == 0) {
            kernelVolumeGone();
        }
        revokeAll();
        return live.isEmpty() && chunks.count(State.GRANT_PLACING) == 0 && chunks.count(State.GRANTED) == 0;
    }

    /** REVOKE for every live grant not yet revoked. */
    private void revokeAll() {
        live.forEach((id, g) -> {
            if (!g.revoking) {
                revoke(id, g);
            }
        });
    }

    private void revoke(long id, LiveGrants.Live g) {
        g.revoking = true;
        replies.send(new ControlMessage.Revoke(ledger.kernelVolume, id));
    }

    /** The kernel's volume went with its grants: their unwritten chunks are released. */
    void kernelVolumeGone() {
        List<Chunk> granted = chunks.values().stream()
                .filter(c -> c.state == State.GRANTED || c.state == State.GRANT_PLACING).toList();
        granted.forEach(this::release);
        grants.clear();
        toGrant.clear();
    }

    /**
     * A new allocator: chunks it was asked to place for grants are dropped (their windows may be
     * offered again); GRANTED ones are adopted with every other place the kernel holds.
     */
    void spaceOpened() {
        List<Chunk> placing = chunks.values().stream().filter(c -> c.state == State.GRANT_PLACING).toList();
        for (Chunk c : placing) {
            chunks.remove(c.chunk);
            if (window > 0) {
                grants.offered.clear((int) (c.chunk / window));
            }
        }
        toGrant.clear();
    }
}
