/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import org.dmcow.format.FormatException;
import org.dmcow.format.qcow2.Qcow2ImageWriter;

/**
 * A compact qcow2 image, one cluster per chunk: an overlay over a raw backing file (export,
 * convert), or standalone (flatten), whose zero clusters stay unallocated.
 */
public final class Qcow2Sink implements ImageSink {
    private final Qcow2ImageWriter writer;
    private final boolean skipZeros;

    private Qcow2Sink(Qcow2ImageWriter writer, boolean skipZeros) {
        this.writer = writer;
        this.skipZeros = skipZeros;
    }

    /** An overlay of {@code base}, which QEMU opens as its raw backing file; every chunk given is kept as it is. */
    public static Qcow2Sink overlay(Path file, long chunkSize, long size, Path base) throws IOException,
            FormatException {
        return new Qcow2Sink(Qcow2ImageWriter.create(file, chunkSize, size,
                Optional.of(base.toAbsolutePath().toString())), false);
    }

    /** A standalone image: chunks of zeros are not allocated (they read as zeros). */
    public static Qcow2Sink standalone(Path file, long chunkSize, long size) throws IOException, FormatException {
        return new Qcow2Sink(Qcow2ImageWriter.create(file, chunkSize, size, Optional.empty()), true);
    }

    @Override
    public void data(long start, ByteBuffer bytes) throws IOException {
        writer.data(start / writer.clusterSize(), bytes, skipZeros);
    }

    @Override
    public void zeros(long start, long length) throws IOException {
        long cs = writer.clusterSize();
        writer.zeros(start / cs, (length + cs - 1) / cs);
    }

    @Override
    public void finish() throws IOException, FormatException {
        writer.finish();
    }

    @Override
    public long outputBytes() {
        return writer.fileBytes();
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }
}
