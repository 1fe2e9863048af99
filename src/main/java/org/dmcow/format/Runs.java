/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.util.function.Consumer;

/**
 * Groups mappings into runs that are adjacent both in the volume and in the CoW space: each run is
 * one mapped {@code cow} segment of a device-mapper table. Feed mappings in increasing volume chunk
 * order, then call {@link #finish()}.
 */
public final class Runs implements CowSpace.MappingVisitor {
    /** {@code chunks} chunks from {@code firstChunk}, stored contiguously from {@code firstPlace}. */
    public record Run(long firstChunk, long chunks, long firstPlace) {
    }

    private final long chunkSize;
    private final Consumer<Run> sink;
    private long first = -1;
    private long count;
    private long place;
    private long runs;

    public Runs(long chunkSize, Consumer<Run> sink) {
        this.chunkSize = chunkSize;
        this.sink = sink;
    }

    /** Counts the runs of a space's committed mappings. */
    public static long count(CowSpace space) {
        Runs runs = new Runs(space.chunkSize(), r -> { });
        space.forEachMapping(runs);
        return runs.finish();
    }

    @Override
    public void mapping(long volumeChunk, long cowPlace) {
        if (first >= 0 && volumeChunk == first + count && cowPlace == place + count * chunkSize) {
            count++;
            return;
        }
        if (first >= 0 && volumeChunk <= first + count - 1) {
            throw new IllegalArgumentException("mappings out of order at chunk " + volumeChunk);
        }
        emit();
        first = volumeChunk;
        place = cowPlace;
        count = 1;
    }

    /** Emits the last run and returns how many runs there were. */
    public long finish() {
        emit();
        first = -1;
        return runs;
    }

    private void emit() {
        if (first >= 0) {
            sink.accept(new Run(first, count, place));
            runs++;
        }
    }
}
