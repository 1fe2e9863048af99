/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import org.dmcow.format.FormatException;

/**
 * Hands an {@link ImageSink} its work on a thread of its own, in order, so that reading the next
 * buffer overlaps writing the last one (as {@code qemu-img convert} keeps several requests in
 * flight): on a busy disk a copy that waits for each write in turn took half again as long. A
 * fixed set of buffers bounds the memory. The sink's first failure stops the writing and is thrown
 * to the reader at its next call.
 */
final class SinkWriter implements AutoCloseable {
    private static final int BUFFERS = 4;

    /** Data, or (data null) a range of zero chunks; {@link #END} ends the thread. */
    private record Work(long start, ByteBuffer data, long zeroLength) {
    }

    private static final Work END = new Work(-1, null, 0);

    private final ImageSink sink;
    private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
    private final BlockingQueue<Work> queue = new ArrayBlockingQueue<>(64);
    private final Thread thread;
    private volatile Exception failure;
    private boolean ended;

    SinkWriter(ImageSink sink, int bufferSize) {
        this.sink = sink;
        for (int i = 0; i < BUFFERS; i++) {
            free.add(ByteBuffer.allocateDirect(bufferSize));
        }
        thread = new Thread(this::write, "dmcowctl-writer");
        thread.start();
    }

    /** A buffer to fill, once the writer has one free. */
    ByteBuffer buffer() throws IOException, FormatException {
        ByteBuffer b = take(free);
        rethrow();
        return b.clear();
    }

    /** Writes the volume's bytes from {@code start}: the buffer's remaining ones; the buffer returns to the pool. */
    void data(long start, ByteBuffer filled) throws IOException, FormatException {
        put(new Work(start, filled, 0));
    }

    void zeros(long start, long length) throws IOException, FormatException {
        put(new Work(start, null, length));
    }

    /** Waits until everything handed over is written; throws the sink's failure. */
    void finish() throws IOException, FormatException {
        end();
        rethrow();
    }

    private void put(Work w) throws IOException, FormatException {
        rethrow();
        try {
            queue.put(w);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing");
        }
    }

    private static <T> T take(BlockingQueue<T> q) throws InterruptedIOException {
        try {
            return q.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing");
        }
    }

    private void end() throws InterruptedIOException {
        if (ended) {
            return;
        }
        ended = true;
        try {
            queue.put(END);
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing");
        }
    }

    private void rethrow() throws IOException, FormatException {
        Exception e = failure;
        if (e instanceof IOException io) {
            throw io;
        } else if (e instanceof FormatException f) {
            throw f;
        } else if (e instanceof RuntimeException r) {
            throw r;
        }
    }

    /** The writer thread: after a failure it only gives the buffers back, so the reader never waits for ever. */
    private void write() {
        while (true) {
            Work w;
            try {
                w = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (w == END) {
                return;
            }
            if (failure == null) {
                try {
                    if (w.data() != null) {
                        sink.data(w.start(), w.data());
                    } else {
                        sink.zeros(w.start(), w.zeroLength());
                    }
                } catch (IOException | FormatException | RuntimeException e) {
                    failure = e;
                }
            }
            if (w.data() != null) {
                free.add(w.data());
            }
        }
    }

    /** Stops the thread (after what was handed over), also when the reader failed. */
    @Override
    public void close() throws IOException {
        end();
    }
}
