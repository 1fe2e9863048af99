/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import org.dmcow.format.CowSpace;

/**
 * The volume of a space, walked once from its start as {@link VolumeExtent}s: runs of chunks of
 * one kind, mapped runs contiguous in the CoW space too (a table's mapped {@code cow} segments, see
 * {@link org.dmcow.format.Runs}). Asks the space chunk by chunk, so the walk keeps nothing but its
 * position: its memory does not grow with the volume.
 */
public final class VolumeExtents {
    private final CowSpace space;
    private final long chunkSize;
    private final long volumeSize;
    private final long chunks;
    /** Chunks that read as zeros, increasing; {@link #zeroIndex}: the first not below the position. */
    private final long[] zeroChunks;
    private int zeroIndex;
    private long chunk;

    VolumeExtents(CowSpace space, long[] zeroChunks) {
        this.space = space;
        this.chunkSize = space.chunkSize();
        this.volumeSize = space.volumeSize();
        this.chunks = space.volumeChunks();
        this.zeroChunks = zeroChunks;
    }

    /** The next extent, or null at the volume's end. */
    public VolumeExtent next() {
        if (chunk >= chunks) {
            return null;
        }
        long first = chunk;
        long place = space.committedPlace(first);
        VolumeExtent.Kind kind = place >= 0 ? VolumeExtent.Kind.SPACE
                : isZero(first) ? VolumeExtent.Kind.ZERO : VolumeExtent.Kind.BASE;
        long c = first + 1;
        while (c < chunks && sameRun(kind, place, c - first, c)) {
            c++;
        }
        chunk = c;
        long start = first * chunkSize;
        return new VolumeExtent(start, Math.min(volumeSize, c * chunkSize) - start, kind, place);
    }

    private boolean sameRun(VolumeExtent.Kind kind, long firstPlace, long index, long c) {
        long place = space.committedPlace(c);
        return switch (kind) {
            case SPACE -> place == firstPlace + index * chunkSize;
            case ZERO -> place < 0 && isZero(c);
            case BASE -> place < 0 && !isZero(c);
        };
    }

    private boolean isZero(long c) {
        while (zeroIndex < zeroChunks.length && zeroChunks[zeroIndex] < c) {
            zeroIndex++;
        }
        return zeroIndex < zeroChunks.length && zeroChunks[zeroIndex] == c;
    }
}
