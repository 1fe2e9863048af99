/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.dmcow.format.FormatException;

/**
 * Where a {@link Transfer} writes a volume: a qcow2 image, a raw image or a new CoW space. Calls
 * come in increasing volume order, each starting on a chunk boundary; only the volume's last chunk
 * may come short.
 */
public interface ImageSink extends Closeable {
    /** The volume's bytes from {@code start}, the buffer's remaining bytes. */
    void data(long start, ByteBuffer bytes) throws IOException, FormatException;

    /** Chunks from {@code start} that read as zeros whatever the base holds (an overlay's zero clusters). */
    void zeros(long start, long length) throws IOException, FormatException;

    /** Writes what is left (the metadata) and makes the output durable. */
    void finish() throws IOException, FormatException;

    /** Bytes the output takes (its file's size, holes included), once finished. */
    long outputBytes() throws IOException;
}
