/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.dmcow.host.FileHoles;

/**
 * A space's volume as the guest sees it (changes over the base), read forwards: zero chunks and
 * the base's holes under unwritten chunks are known zeros.
 */
public final class SpaceVolume implements VolumeSource {
    private final OfflineSpace space;
    private final VolumeExtents extents;
    private final FileHoles baseHoles;
    private VolumeExtent current;

    public SpaceVolume(OfflineSpace space) throws IOException {
        this.space = space;
        this.extents = space.extents();
        this.baseHoles = FileHoles.open(space.base().path(), space.base().size());
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
            space.read(e, pos, dst);
            dst.limit(limit);
            pos += n;
        }
    }

    @Override
    public long zerosEnd(long position) throws IOException {
        VolumeExtent e = at(position);
        return switch (e.kind()) {
            case ZERO -> e.end();
            case SPACE -> position;
            case BASE -> Math.min(e.end(), baseHoles.nextData(position));
        };
    }

    /** Closes the space too. */
    @Override
    public void close() throws IOException {
        try {
            baseHoles.close();
        } finally {
            space.close();
        }
    }
}
