/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A space's volume as the guest sees it (changes over what lies below: the base, or a qcow2
 * image's backing chain), read forwards: zero chunks and the holes of what lies below under
 * unwritten chunks are known zeros, as is everything past the end of what lies below.
 */
public final class SpaceVolume implements VolumeSource {
    private final OfflineSpace space;
    private final VolumeExtents extents;
    /** What unwritten chunks read; null: zeros (a qcow2 image without a backing file). */
    private final VolumeSource below;
    private VolumeExtent current;

    /** The volume of {@code space} over its base. */
    public SpaceVolume(OfflineSpace space) throws IOException {
        this(space, RawVolume.open(space.base().path()));
    }

    /** The volume of {@code space} over {@code below} (null: zeros), which it closes with the space. */
    SpaceVolume(OfflineSpace space, VolumeSource below) {
        this.space = space;
        this.extents = space.extents();
        this.below = below;
        this.current = extents.next();
    }

    @Override
    public long size() {
        return space.volumeSize();
    }

    /** The extent holding {@code position}; the walk moves forwards only. */
    private VolumeExtent at(long position) {
        while (current != null && current.end() <= position) {
            current = extents.next();
        }
        if (current == null || current.start() > position) {
            throw new IllegalArgumentException("position " + position + " is outside the volume or behind the walk");
        }
        return current;
    }

    @Override
    public void read(long position, ByteBuffer dst) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            VolumeExtent e = at(pos);
            int n = (int) Math.min(dst.remaining(), e.end() - pos);
            int limit = dst.limit();
            dst.limit(dst.position() + n);
            if (e.kind() == VolumeExtent.Kind.BASE) {
                readBelow(pos, dst);
            } else {
                space.read(e, pos, dst);
            }
            dst.limit(limit);
            pos += n;
        }
    }

    private void readBelow(long position, ByteBuffer dst) throws IOException {
        long there = below == null ? 0 : Math.max(0, Math.min(dst.remaining(), below.size() - position));
        if (there > 0) {
            int limit = dst.limit();
            dst.limit(dst.position() + (int) there);
            below.read(position, dst);
            dst.limit(limit);
        }
        OfflineSpace.fillZeros(dst);
    }

    @Override
    public long zerosEnd(long position) throws IOException {
        VolumeExtent e = at(position);
        return switch (e.kind()) {
            case ZERO -> e.end();
            case SPACE -> position;
            case BASE -> below == null || position >= below.size() ? e.end()
                    : Math.min(e.end(), below.zerosEnd(position));
        };
    }

    /** Closes the space and what lies below too. */
    @Override
    public void close() throws IOException {
        try {
            if (below != null) {
                below.close();
            }
        } finally {
            space.close();
        }
    }
}
