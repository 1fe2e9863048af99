/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.dmcow.host.LibC;
import org.dmcow.dm.Tables;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.MalformedMessageException;
import org.dmcow.protocol.MessageCodec;
import org.dmcow.protocol.Protocol;

/**
 * The kernel side of /dev/dm-cow in the JVM, following kmod/dm-cow.h: it sends HELLO, VOLUME,
 * FAULT, FILLED, FLUSH and replay messages, and checks every MAP, FAIL, COMMITTED and FORGET the
 * daemon writes (a bad one is refused with EINVAL after the ones before it were applied, as the
 * module does; a write of anything but 1 to {@link Protocol#MAX_WRITE_MSGS} whole messages is
 * refused whole). Fault injection: failing writes (lost replies), repeated messages, raw bytes.
 */
final class KernelDouble implements ControlDevice {
    static final class Vol {
        final int id;
        final String ident;
        final long sectors;
        final int chunkSectors;
        long faultSeq;
        long fillSeq;
        final Map<Long, Long> faultChunk = new HashMap<>();
        final Map<Long, Integer> faultFlags = new HashMap<>();
        final Map<Long, Long> chunkFault = new HashMap<>();
        final Map<Long, Long> place = new HashMap<>();
        final Map<Long, Long> chunkAt = new HashMap<>();
        final Map<Long, Long> fillSeqOf = new HashMap<>();
        final Map<Long, Integer> fillOf = new HashMap<>();
        final Set<Long> committed = new HashSet<>();
        /** Fill sequence numbers of chunks not committed yet: what a flush waits for. */
        final TreeSet<Long> uncommittedFills = new TreeSet<>();
        final Set<Long> forgotten = new HashSet<>();
        /** Chunks discarded whole (DISCARD sent) and not written or forgotten since. */
        final Set<Long> discarded = new HashSet<>();
        /**
         * Places of discarded chunks, with the table swaps counted at the discard: a write may still
         * be on its way there until a swap drains it, so a MAP there before one is refused.
         */
        final Map<Long, Integer> draining = new HashMap<>();
        final Map<Long, CompletableFuture<Void>> writes = new HashMap<>();
        final List<Map.Entry<Long, CompletableFuture<Void>>> flushes = new ArrayList<>();
        final KernelDoubleGrants grants = new KernelDoubleGrants();

        Vol(int id, String ident, long sectors, int chunkSectors) {
            this.id = id;
            this.ident = ident;
            this.sectors = sectors;
            this.chunkSectors = chunkSectors;
        }
    }

    private final LinkedBlockingDeque<byte[]> toDaemon = new LinkedBlockingDeque<>();
    private final Map<Integer, Vol> volumes = new HashMap<>();
    private int nextVolume = 1;
    private volatile boolean closed;
    private boolean helloReceived;
    final AtomicInteger rejected = new AtomicInteger();
    final List<String> rejections = new ArrayList<>();
    final AtomicInteger maps = new AtomicInteger();
    final AtomicInteger writeCalls = new AtomicInteger();
    final AtomicInteger messagesWritten = new AtomicInteger();
    /** The next this many write() calls fail with EIO before applying anything. */
    final AtomicInteger failWrites = new AtomicInteger();
    /** Fills of these chunks fail once: the grant is dropped, the writes fail, no FILLED. */
    final Set<Long> failFills = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Send every FAULT and FILLED twice. */
    volatile boolean repeatMessages;

    KernelDouble() {
        this(Protocol.PROTOCOL_VERSION);
    }

    KernelDouble(int version) {
        send(new ControlMessage.Hello(version, Protocol.MSG_SIZE, 4));
    }

    private void send(ControlMessage m) {
        sent.incrementAndGet();
        toDaemon.add(MessageCodec.encode(m).array());
    }

    /** Messages sent to the daemon, the HELLO included. */
    final AtomicInteger sent = new AtomicInteger();

    /** Kernel messages the daemon has not read yet. */
    int unread() {
        return toDaemon.size();
    }

    void sendRaw(byte[] message) {
        sent.incrementAndGet();
        toDaemon.add(message.clone());
    }

    synchronized int addVolume(String ident, long sectors, int chunkSectors) {
        Vol v = new Vol(nextVolume++, ident, sectors, chunkSectors);
        volumes.put(v.id, v);
        send(new ControlMessage.Volume(v.id, sectors, sectors * 2, chunkSectors, 0x700000, 0x700001, ident));
        return v.id;
    }

    synchronized Vol volume(int id) {
        return volumes.get(id);
    }

    /** A write to a chunk: completes once the chunk is filled (or at once if it is). */
    synchronized CompletableFuture<Void> write(int volume, long chunk, boolean fullChunk) {
        Vol v = volumes.get(volume);
        if (v.fillSeqOf.containsKey(chunk)) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> f = v.writes.get(chunk);
        if (f != null) {
            return f;
        }
        f = new CompletableFuture<>();
        v.writes.put(chunk, f);
        long slot = v.place.containsKey(chunk) ? -1 : v.grants.take(chunk, v.chunkSectors);
        if (slot >= 0) {
            // a granted slot: filled at once, no FAULT
            v.discarded.remove(chunk);
            v.place.put(chunk, slot);
            v.chunkAt.put(slot, chunk);
            v.fillOf.put(chunk, fullChunk ? Protocol.FILL_NONE : v.grants.grantFor(chunk).fill());
            filled(v, chunk);
        } else if (!v.place.containsKey(chunk)) {
            v.discarded.remove(chunk); // FAULTED now
            long seq = ++v.faultSeq;
            v.faultChunk.put(seq, chunk);
            v.chunkFault.put(chunk, seq);
            int flags = fullChunk ? Protocol.FAULT_FULL_WRITE : 0;
            v.faultFlags.put(seq, flags);
            ControlMessage.Fault m = new ControlMessage.Fault(volume, seq, chunk, flags);
            send(m);
            if (repeatMessages) {
                send(m);
            }
        }
        return f;
    }

    /**
     * A discard of a whole committed chunk (segments with discard_unmap): its place goes, DISCARD
     * is sent, and it reads as the base until written again (a FAULT). False if it was not committed.
     */
    synchronized boolean discard(int volume, long chunk) {
        return discard(volume, chunk, true);
    }

    /**
     * {@link #discard}; without {@code announce} no DISCARD goes out, as when the module replaces an
     * unread one with the FAULT of a write to the chunk (the caller's next {@link #write}).
     */
    synchronized boolean discard(int volume, long chunk, boolean announce) {
        Vol v = volumes.get(volume);
        if (!v.committed.contains(chunk)) {
            return false;
        }
        long old = v.place.remove(chunk);
        v.chunkAt.remove(old);
        v.draining.put(old, swaps.applyAsInt(v.ident));
        v.committed.remove(chunk);
        v.forgotten.remove(chunk);
        v.fillSeqOf.remove(chunk);
        v.fillOf.remove(chunk);
        v.grants.grantOf.remove(chunk);
        v.discarded.add(chunk);
        if (announce) {
            send(new ControlMessage.Discard(volume, chunk));
        }
        return true;
    }

    /** Table swaps of a device so far, by ident, when a test wires the fake device-mapper in. */
    volatile java.util.function.ToIntFunction<String> swaps = ident -> 0;

    /** A flush: completes once every chunk filled so far is committed. */
    synchronized CompletableFuture<Void> flush(int volume) {
        Vol v = volumes.get(volume);
        CompletableFuture<Void> f = new CompletableFuture<>();
        v.flushes.add(Map.entry(v.fillSeq, f));
        send(new ControlMessage.Flush(volume, v.fillSeq));
        checkFlushes(v);
        return f;
    }

    /** Replay after attach: an earlier daemon mapped this chunk; filled when {@code filled}. */
    synchronized void replayMapped(int volume, long chunk, long cowSector, boolean filled) {
        Vol v = volumes.get(volume);
        v.place.put(chunk, cowSector);
        v.chunkAt.put(cowSector, chunk);
        if (filled) {
            long seq = ++v.fillSeq;
            v.fillSeqOf.put(chunk, seq);
            v.uncommittedFills.add(seq);
            send(new ControlMessage.Filled(volume, seq, chunk, cowSector));
        } else {
            send(new ControlMessage.Granted(volume, chunk, cowSector));
        }
    }

    /** A granted chunk's fill completes (after a replay). */
    synchronized void finishFill(int volume, long chunk) {
        Vol v = volumes.get(volume);
        filled(v, chunk);
    }

    void replayDone() {
        send(new ControlMessage.ReplayDone());
    }

    /** The next read() fails with this (the control device broke under the daemon), then reads go on. */
    volatile IOException failRead;

    /** While set, read() waits: messages queued meanwhile reach the daemon in one read. */
    volatile java.util.concurrent.CountDownLatch readGate;

    /**
     * A new daemon opens the device, as the module replays to it: what the old daemon left unread
     * is dropped; HELLO, VOLUME for every volume, GRANTED or FILLED for every remap not yet
     * committed, FAULT for every fault not yet answered, REPLAY_DONE.
     */
    synchronized void reattach() {
        toDaemon.clear();
        helloReceived = false;
        send(new ControlMessage.Hello(Protocol.PROTOCOL_VERSION, Protocol.MSG_SIZE, 4));
        for (Vol v : volumes.values()) {
            send(new ControlMessage.Volume(v.id, v.sectors, v.sectors * 2, v.chunkSectors, 0x700000, 0x700001,
                    v.ident));
        }
        for (Vol v : volumes.values()) {
            v.grants.replay(v.id).forEach(this::send);
            for (Map.Entry<Long, Long> p : v.place.entrySet()) {
                long chunk = p.getKey();
                if (v.committed.contains(chunk)) {
                    continue;
                }
                Long seq = v.fillSeqOf.get(chunk);
                int grant = v.grants.grantOf.getOrDefault(chunk, 0L).intValue();
                send(seq == null ? new ControlMessage.Granted(v.id, chunk, p.getValue(), grant)
                        : new ControlMessage.Filled(v.id, seq, chunk, p.getValue(), grant));
            }
            for (long chunk : v.discarded) {
                send(new ControlMessage.Discard(v.id, chunk));
            }
            for (Map.Entry<Long, Long> f : v.faultChunk.entrySet()) {
                send(new ControlMessage.Fault(v.id, f.getKey(), f.getValue(), v.faultFlags.get(f.getKey())));
            }
        }
        send(new ControlMessage.ReplayDone());
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        byte[] first;
        try {
            do {
                IOException broken = failRead;
                if (broken != null) {
                    failRead = null;
                    throw broken;
                }
                java.util.concurrent.CountDownLatch gate = readGate;
                first = gate != null && !gate.await(100, TimeUnit.MILLISECONDS) ? null
                        : toDaemon.poll(100, TimeUnit.MILLISECONDS);
            } while (first == null && !closed);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        if (first == null) {
            return -1;
        }
        int n = 0;
        dst.put(first);
        n += first.length;
        byte[] more;
        while (dst.remaining() >= Protocol.MSG_SIZE && (more = toDaemon.poll()) != null) {
            dst.put(more);
            n += more.length;
        }
        return n;
    }

    @Override
    public synchronized int write(ByteBuffer src) throws IOException {
        writeCalls.incrementAndGet();
        int count = src.remaining();
        if (count == 0 || count % Protocol.MSG_SIZE != 0 || count > Protocol.MAX_WRITE_MSGS * Protocol.MSG_SIZE) {
            refuse("rejected write of " + count + " bytes: must be 1 to " + Protocol.MAX_WRITE_MSGS + " whole "
                    + Protocol.MSG_SIZE + "-byte messages");
        }
        if (failWrites.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new IOException("injected EIO");
        }
        int start = src.position();
        ByteBuffer b = src.slice();
        while (b.hasRemaining()) {
            ControlMessage m;
            String bad;
            try {
                m = MessageCodec.decode(b);
                bad = apply(m);
            } catch (MalformedMessageException e) {
                m = null;
                bad = e.getMessage();
            }
            if (bad != null) {
                // like write(2) failing: the caller learns nothing of the messages applied before
                src.position(start);
                refuse(bad);
            }
            messagesWritten.incrementAndGet();
            src.position(src.position() + Protocol.MSG_SIZE);
        }
        return src.position() - start;
    }

    private void refuse(String why) throws LibC.ErrnoException {
        rejected.incrementAndGet();
        rejections.add(why);
        throw new LibC.ErrnoException("dm-cow: " + why, LibC.EINVAL);
    }

    /** Applies one daemon message; returns why it is refused, or null. */
    private String apply(ControlMessage m) {
        if (!helloReceived) {
            if (m instanceof ControlMessage.Hello h && h.version() == Protocol.PROTOCOL_VERSION) {
                helloReceived = true;
                return null;
            }
            return "first message is not a HELLO of version " + Protocol.PROTOCOL_VERSION + ": " + m;
        }
        Vol v = volumes.get(m.volume());
        if (v == null) {
            return "no volume " + m.volume() + ": " + m;
        }
        if (m instanceof ControlMessage.Map mp) {
            Long chunk = v.faultChunk.get(mp.seq());
            if (chunk == null || chunk != mp.chunk()) {
                return "MAP of an unanswered fault? " + mp;
            }
            if (mp.cowSector() % v.chunkSectors != 0 || v.chunkAt.containsKey(mp.cowSector())) {
                return "MAP to a bad or used place " + mp + " (used by chunk " + v.chunkAt.get(mp.cowSector()) + ")";
            }
            KernelDoubleGrants.Live slot = v.grants.freeSlotAt(mp.cowSector(), v.chunkSectors);
            if (slot != null && slot.slotSector(mp.chunk(), v.chunkSectors) != mp.cowSector()) {
                return "MAP to a free slot of live grant " + slot.id() + " (a place handed out twice) " + mp;
            }
            v.grants.mapped(mp.chunk());
            Integer discardedAt = v.draining.get(mp.cowSector());
            if (discardedAt != null && discardedAt == swaps.applyAsInt(v.ident)) {
                return "MAP to the place of a discarded chunk before a table swap drained it " + mp;
            }
            v.draining.remove(mp.cowSector());
            if (mp.fill() == Protocol.FILL_NONE && (v.faultFlags.get(mp.seq()) & Protocol.FAULT_FULL_WRITE) == 0) {
                return "FILL_NONE without FULL_WRITE " + mp;
            }
            if (mp.fill() < 0 || mp.fill() > Protocol.FILL_NONE) {
                return "bad fill " + mp;
            }
            v.faultChunk.remove(mp.seq());
            v.chunkFault.remove(mp.chunk());
            if (failFills.remove(mp.chunk())) {
                CompletableFuture<Void> w = v.writes.remove(mp.chunk());
                if (w != null) {
                    w.completeExceptionally(new IOException("fill of chunk " + mp.chunk() + " failed"));
                }
                return null;
            }
            v.place.put(mp.chunk(), mp.cowSector());
            v.chunkAt.put(mp.cowSector(), mp.chunk());
            v.fillOf.put(mp.chunk(), mp.fill());
            maps.incrementAndGet();
            filled(v, mp.chunk());
            return null;
        }
        if (m instanceof ControlMessage.Fail f) {
            Long chunk = v.faultChunk.get(f.seq());
            if (chunk == null || chunk != f.chunk() || f.error() <= 0) {
                return "FAIL of an unanswered fault? " + f;
            }
            v.faultChunk.remove(f.seq());
            v.chunkFault.remove(f.chunk());
            CompletableFuture<Void> w = v.writes.remove(f.chunk());
            if (w != null) {
                w.completeExceptionally(new IOException("errno " + f.error()));
            }
            return null;
        }
        if (m instanceof ControlMessage.Committed c) {
            // the module accepts a repeated COMMITTED; this double refuses it to show none is sent twice
            if (!v.fillSeqOf.containsKey(c.chunk()) || v.committed.contains(c.chunk())) {
                return "COMMITTED of a chunk not filled, or twice: " + c;
            }
            v.committed.add(c.chunk());
            v.uncommittedFills.remove(v.fillSeqOf.get(c.chunk()));
            checkFlushes(v);
            return null;
        }
        if (m instanceof ControlMessage.Forget f) {
            if (table != null && table.apply(v.ident).isEmpty()) {
                // the module drops a volume with its last segment, remaps and all
                return "FORGET for a volume whose table has no segment left (unknown to the kernel): " + f;
            }
            if (v.discarded.contains(f.chunk())) {
                // goes once a cow segment serves it
                if (!coveredByCow(v, f.chunk())) {
                    return "FORGET of a discarded chunk that no cow segment serves: " + f;
                }
                v.discarded.remove(f.chunk());
                return null;
            }
            if (!v.committed.contains(f.chunk()) || !v.forgotten.add(f.chunk()) || coveredByCow(v, f.chunk())) {
                return "FORGET of a chunk not committed, or twice: " + f;
            }
            return null;
        }
        if (m instanceof ControlMessage.Grant g && g.kind() == ControlMessage.Grant.Kind.GRANT) {
            return v.grants.grant(v, g);
        }
        if (m instanceof ControlMessage.Revoke r) {
            send(v.grants.revoke(v.id, r.id()));
            return null;
        }
        return "not a daemon message: " + m;
    }

    /** The module refuses FORGET while an unmapped cow segment covers the chunk: the double reads the live table. */
    private boolean coveredByCow(Vol v, long chunk) {
        return table != null && table.apply(v.ident).stream().anyMatch(t -> t.type().equals("cow") && !Tables.isMapped(t)
                && t.start() < (chunk + 1) * v.chunkSectors && chunk * v.chunkSectors < t.start() + t.length());
    }

    /** The live table by ident, when a test wires the fake device-mapper in. */
    volatile java.util.function.Function<String, List<org.dmcow.dm.DeviceMapper.Target>> table;

    private void filled(Vol v, long chunk) {
        long seq = ++v.fillSeq;
        v.fillSeqOf.put(chunk, seq);
        v.uncommittedFills.add(seq);
        ControlMessage.Filled m = new ControlMessage.Filled(v.id, seq, chunk, v.place.get(chunk),
                v.grants.grantOf.getOrDefault(chunk, 0L).intValue());
        send(m);
        if (repeatMessages) {
            send(m);
        }
        CompletableFuture<Void> w = v.writes.remove(chunk);
        if (w != null) {
            w.complete(null);
        }
    }

    private void checkFlushes(Vol v) {
        v.flushes.removeIf(e -> {
            if (!v.uncommittedFills.isEmpty() && v.uncommittedFills.first() <= e.getKey()) {
                return false;
            }
            e.getValue().complete(null);
            return true;
        });
    }

    @Override
    public void close() {
        closed = true;
    }
}
