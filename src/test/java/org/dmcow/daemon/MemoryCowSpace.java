/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.SpaceFullException;

/**
 * A CoW space in memory for actor tests. Its {@link Durable} part outlives every open (what a
 * restarted allocator reads back); reservations do not. Fault injection: failing or slow commits
 * and flushes, a crash (RuntimeException) in place().
 */
final class MemoryCowSpace implements CowSpace {
    /** What survives: committed mappings, and the events tests check the order of. */
    static final class Durable {
        final long chunkSize;
        final long volumeSize;
        /** Grows with the store ({@link Store#grow}), as a native space takes in a grown file. */
        volatile long capacityChunks;
        /** The store's {@link CowStore#room}: a sparse file's filesystem. */
        volatile long room = Long.MAX_VALUE;
        final TreeMap<Long, Long> committed = new TreeMap<>();
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger opens = new AtomicInteger();
        final AtomicInteger flushes = new AtomicInteger();
        final AtomicInteger flushesStarted = new AtomicInteger();
        volatile String failCommits;
        volatile String failOpen;
        volatile long flushDelayMillis;
        /** When set, flushes wait until it is counted down: a CoW device that does not finish a flush. */
        volatile java.util.concurrent.CountDownLatch flushGate;
        final AtomicInteger crashPlaces = new AtomicInteger();

        Durable(long chunkSize, long volumeSize, long capacityChunks) {
            this.chunkSize = chunkSize;
            this.volumeSize = volumeSize;
            this.capacityChunks = capacityChunks;
        }

        synchronized Map<Long, Long> committedCopy() {
            return new TreeMap<>(committed);
        }

        SpaceOpener.OpenedSpace open() throws FormatException {
            if (failOpen != null) {
                throw new FormatException(failOpen);
            }
            opens.incrementAndGet();
            return new SpaceOpener.OpenedSpace(new MemoryCowSpace(this), new Store(this), () -> { });
        }
    }

    private final Durable d;
    private final Map<Long, Long> reserved = new HashMap<>();
    private final BitSet used = new BitSet();

    private MemoryCowSpace(Durable d) {
        this.d = d;
        synchronized (d) {
            d.committed.values().forEach(p -> used.set((int) (p / d.chunkSize)));
        }
    }

    @Override
    public long chunkSize() {
        return d.chunkSize;
    }

    @Override
    public long volumeSize() {
        return d.volumeSize;
    }

    @Override
    public void forEachMapping(MappingVisitor visitor) {
        // under the lock, not over a copy: a copy of every mapping per table reload is garbage
        // the benchmarks' collections pay for (the kernel double's maps remain the most of it)
        synchronized (d) {
            d.committed.forEach(visitor::mapping);
        }
    }

    @Override
    public long committedPlace(long volumeChunk) {
        synchronized (d) {
            return d.committed.getOrDefault(volumeChunk, -1L);
        }
    }

    @Override
    public Placement place(long volumeChunk) throws SpaceFullException {
        if (d.crashPlaces.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new IllegalStateException("injected allocator crash placing chunk " + volumeChunk);
        }
        // keep neighbours together: right after chunk-1 when that slot is free
        long prev = reserved.getOrDefault(volumeChunk - 1, committedPlace(volumeChunk - 1));
        int slot = prev >= 0 && !used.get((int) (prev / d.chunkSize + 1)) ? (int) (prev / d.chunkSize + 1)
                : used.nextClearBit(0);
        if (slot >= d.capacityChunks) {
            slot = used.nextClearBit(0);
        }
        if (slot >= d.capacityChunks) {
            throw new SpaceFullException("memory space: all " + d.capacityChunks + " chunks used");
        }
        used.set(slot);
        reserved.put(volumeChunk, slot * d.chunkSize);
        return new Placement(slot * d.chunkSize, Fill.COPY);
    }

    @Override
    public void adopt(long volumeChunk, long place) throws FormatException {
        int slot = (int) (place / d.chunkSize);
        if (place % d.chunkSize != 0 || slot >= d.capacityChunks || used.get(slot)) {
            throw new FormatException("cannot adopt place " + place + " for chunk " + volumeChunk);
        }
        used.set(slot);
        reserved.put(volumeChunk, place);
    }

    @Override
    public void release(long volumeChunk) {
        Long p = reserved.remove(volumeChunk);
        if (p != null) {
            used.clear((int) (p / d.chunkSize));
        }
    }

    @Override
    public void commit(List<Mapping> mappings) throws IOException {
        if (d.failCommits != null) {
            throw new IOException(d.failCommits);
        }
        synchronized (d) {
            for (Mapping m : mappings) {
                Long r = reserved.get(m.volumeChunk());
                if (r == null || r != m.place()) {
                    throw new IllegalStateException("commit of an unreserved mapping " + m);
                }
                if (d.committed.containsKey(m.volumeChunk())) {
                    throw new IllegalStateException("chunk committed twice " + m);
                }
            }
            for (Mapping m : mappings) {
                reserved.remove(m.volumeChunk());
                d.committed.put(m.volumeChunk(), m.place());
            }
            d.events.add("commit " + mappings.size());
        }
    }

    @Override
    public SpaceUsage usage() {
        synchronized (d) {
            return new SpaceUsage(used.cardinality(), d.capacityChunks - used.cardinality(), d.committed.size());
        }
    }

    @Override
    public void close() {
    }

    /** The store under the space: only flush matters here. */
    private static final class Store implements CowStore {
        private final Durable d;

        Store(Durable d) {
            this.d = d;
        }

        @Override
        public Path path() {
            return Path.of("/memory");
        }

        @Override
        public long size() {
            return d.capacityChunks * d.chunkSize;
        }

        @Override
        public void read(ByteBuffer dst, long position) {
            while (dst.hasRemaining()) {
                dst.put((byte) 0);
            }
        }

        @Override
        public void write(ByteBuffer src, long position) {
            src.position(src.limit());
        }

        @Override
        public void flush() throws IOException {
            d.flushesStarted.incrementAndGet();
            try {
                java.util.concurrent.CountDownLatch gate = d.flushGate;
                if (gate != null) {
                    gate.await();
                }
                Thread.sleep(d.flushDelayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
            d.flushes.incrementAndGet();
            d.events.add("flush");
        }

        @Override
        public void grow(long newSize) {
            d.capacityChunks = Math.max(d.capacityChunks, newSize / d.chunkSize);
        }

        @Override
        public long room() {
            return d.room;
        }

        @Override
        public void close() {
        }
    }
}
