/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The CoW space's storage as a format sees it: positional I/O, flush and growth on a file or
 * block device. This is the seam where tests cut writes short, fail them, or slow them down.
 */
public interface CowStore extends Closeable {
    /** The file or device, for messages. */
    Path path();

    long size() throws IOException;

    /** Reads exactly {@code dst.remaining()} bytes at {@code position}; past the end reads zeros. */
    void read(ByteBuffer dst, long position) throws IOException;

    /** Writes all of {@code src} at {@code position}. */
    void write(ByteBuffer src, long position) throws IOException;

    /** Makes every completed write durable (fdatasync; a cache flush on a device). */
    void flush() throws IOException;

    /**
     * Grows the store to at least {@code newSize} bytes and makes its size visible to the kernel
     * (a loop device is told its capacity), also when it had that size already: grown by other
     * means. A block device cannot grow beyond its size: IOException.
     */
    void grow(long newSize) throws IOException;

    /**
     * Bytes the store can still take in new blocks, beyond its size or in its holes: a file's
     * filesystem's free space. This default: no limit.
     */
    default long room() throws IOException {
        return Long.MAX_VALUE;
    }

    /**
     * Gives back the bytes of {@code [position, position + length)}: a file gets a hole (its size
     * kept), a device that takes discards is told (BLKDISCARD). They read as anything afterwards.
     * Where neither is supported nothing happens; this default does nothing.
     */
    default void discard(long position, long length) throws IOException {
    }

    /** Every block within its size is allocated (a device, a preallocated file): chunks there need no room. */
    default boolean preallocated() throws IOException {
        return false;
    }
}
