/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * An open CoW space: placement decisions and durable mappings for one volume. Places are byte
 * offsets in the CoW store (the file or device the kernel target gets as its CoW device), each
 * the start of one chunk. Not thread-safe: one owner (the volume's allocator) uses it.
 */
public interface CowSpace extends Closeable {
    /** Chunk size in bytes (a power of two, at least 4 KiB). */
    long chunkSize();

    /** The volume's size in bytes: the base's size. The last chunk may be partial. */
    long volumeSize();

    /** Number of chunks in the volume, the last possibly partial. */
    default long volumeChunks() {
        return (volumeSize() + chunkSize() - 1) / chunkSize();
    }

    /** Calls {@code visitor} for every committed mapping, in increasing volume chunk order. */
    void forEachMapping(MappingVisitor visitor);

    /**
     * Calls {@code visitor}, in increasing order, for every volume chunk that must read as zeros
     * although it has no committed mapping (qcow2 zero clusters written by QEMU). The kernel reads
     * an unmapped chunk from the base, so before serving the volume the daemon places each such
     * chunk (its placement says {@link Fill#ZERO}) and commits it. Formats without such chunks
     * keep this default.
     */
    default void forEachZeroChunk(LongConsumer visitor) {
    }

    /** The committed place of a volume chunk, or -1 when it has none. */
    long committedPlace(long volumeChunk);

    /**
     * Chooses and reserves a place for a volume chunk that has none. The reservation is not durable
     * until {@link #commit}; it is never handed out again meanwhile.
     *
     * @throws SpaceFullException when no place is left (after growing, where the format grows)
     */
    Placement place(long volumeChunk) throws IOException, FormatException;

    /**
     * Records a place the kernel already holds for a chunk (replayed after a daemon restart), so
     * it is never handed out again. Refuses a place outside the data area or already in use.
     */
    void adopt(long volumeChunk, long place) throws FormatException;

    /**
     * Frees what an earlier daemon counted and never committed: places a crash left unreferenced
     * (chunks placed, or granted ahead, and not yet committed when the power went). Called only
     * when no kernel volume can hold a place this space did not hand out: the volume's device was
     * just created. Places reserved, released or unmapped here stay. Returns how many were freed;
     * formats where an uncommitted place is free by construction (native) keep this default.
     */
    default long reclaimLeaks() throws IOException {
        return 0;
    }

    /** Returns a reservation that will not be used (the fault was failed). */
    void release(long volumeChunk);

    /**
     * Makes mappings durable, in one group where the format can. The caller has made the data in
     * these chunks durable first (data before metadata). A mapping whose place is
     * {@link #UNMAPPED} unmaps its chunk (formats that {@link #unmaps}): the chunk reads as the base
     * again and its old place joins {@link #unmappedPlaces}. Returns once durable.
     */
    void commit(List<Mapping> mappings) throws IOException, FormatException;

    /** The place of a {@link Mapping} that unmaps its chunk. */
    long UNMAPPED = -1;

    /** Whether {@link #commit} takes unmaps: the volume's discards may give chunks back. */
    default boolean unmaps() {
        return false;
    }

    /**
     * Places of chunks unmapped durably (by a commit, or found so at open), still in use: a write
     * the old table sent there may be on its way until a table reload after the unmap completes.
     */
    default List<Long> unmappedPlaces() {
        return List.of();
    }

    /**
     * Gives back those of {@code places} that are {@link #unmappedPlaces} (others are ignored):
     * their bytes are discarded from the store, and they are free for new chunks.
     */
    default void freePlaces(List<Long> places) throws IOException, FormatException {
    }

    /**
     * Takes in the room its store gained (the file or device grew). Formats that grow their store
     * themselves, as they place, keep this default.
     */
    default void grow() throws IOException, FormatException {
    }

    /** The format grows its store as it places (qcow2): its free chunks are no measure of its room. */
    default boolean growsItself() {
        return false;
    }

    /** Space accounting, exact. */
    SpaceUsage usage();

    /** Where a chunk goes and how the kernel fills the rest of it before the first write. */
    record Placement(long place, Fill fill) {
    }

    /** How a newly placed chunk is filled: copied from the base, or zero-filled. */
    enum Fill {
        COPY, ZERO
    }

    /** One committed or to-be-committed mapping: volume chunk to byte offset in the CoW store. */
    record Mapping(long volumeChunk, long place) {
    }

    /** Visitor over mappings; primitive to keep 16 M-mapping spaces cheap to walk. */
    @FunctionalInterface
    interface MappingVisitor {
        void mapping(long volumeChunk, long place);
    }

    /** Chunks of CoW space: used (committed or reserved), free (placeable now), committed mappings. */
    record SpaceUsage(long usedChunks, long freeChunks, long mappings) {
    }
}
