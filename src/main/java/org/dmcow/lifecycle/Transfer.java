/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.dmcow.format.FormatException;
import org.dmcow.host.FileHoles;

/**
 * Streams a space's volume into an {@link ImageSink}, extent by extent, through a few buffers
 * ({@link SinkWriter} writes one while the next is read): the memory it takes does not depend on
 * the volume's size or on how much the guest wrote.
 */
public final class Transfer {
    /** Bytes per read and write: as large as {@code qemu-img convert}'s default buffer. */
    private static final int BUFFER = 2 << 20;

    /** What of the volume goes out. */
    public enum Scope {
        /** The guest's changes only: chunks of the space, and chunks that read as zeros; the base stays behind. */
        CHANGES,
        /** The whole volume as one image: the base's data (its holes skipped) and the changes over it. */
        WHOLE
    }

    /** What was done: the volume's size, the bytes read and handed on, the time taken. */
    public record Result(long volumeBytes, long copiedBytes, long outputBytes, long nanos) {
        /** Bytes copied per second. */
        public double throughput() {
            return nanos == 0 ? 0 : copiedBytes * 1e9 / nanos;
        }
    }

    private final OfflineSpace space;
    private final SinkWriter sink;
    private final Progress progress;
    private final int bufferSize;
    private long copied;

    private Transfer(OfflineSpace space, SinkWriter sink, Progress progress, int bufferSize) {
        this.space = space;
        this.sink = sink;
        this.progress = progress;
        this.bufferSize = bufferSize;
    }

    /** Writes {@code scope} of the volume of {@code space} into {@code sink} and finishes it. */
    public static Result run(OfflineSpace space, Scope scope, ImageSink sink, Progress progress)
            throws IOException, FormatException {
        long began = System.nanoTime();
        int bufferSize = (int) Math.max(BUFFER, space.chunkSize());
        long copied;
        try (SinkWriter writer = new SinkWriter(sink, bufferSize)) {
            Transfer t = new Transfer(space, writer, progress, bufferSize);
            if (scope == Scope.WHOLE) {
                try (FileHoles holes = FileHoles.open(space.base().path(), space.base().size())) {
                    t.copy(scope, holes);
                }
            } else {
                t.copy(scope, null);
            }
            writer.finish();
            copied = t.copied;
        }
        sink.finish();
        progress.finish();
        return new Result(space.volumeSize(), copied, sink.outputBytes(), System.nanoTime() - began);
    }

    private void copy(Scope scope, FileHoles baseHoles) throws IOException, FormatException {
        VolumeExtents extents = space.extents();
        for (VolumeExtent e = extents.next(); e != null; e = extents.next()) {
            switch (e.kind()) {
                case SPACE -> copy(e, e.start(), e.end());
                case ZERO -> {
                    if (scope == Scope.CHANGES) {
                        sink.zeros(e.start(), e.length());
                    }
                }
                case BASE -> {
                    if (scope == Scope.WHOLE) {
                        copyBaseData(e, baseHoles);
                    }
                }
            }
            progress.at(e.end(), space.volumeSize());
        }
    }

    /** The chunks of a base extent that hold any of the base's data; whole chunks of holes are skipped. */
    private void copyBaseData(VolumeExtent e, FileHoles holes) throws IOException, FormatException {
        long cs = space.chunkSize();
        long at = e.start();
        while (at < e.end()) {
            long data = holes.nextData(at);
            if (data >= e.end()) {
                return;
            }
            long dataEnd = Math.min(e.end(), holes.dataEnd(data));
            long from = Math.max(at, data / cs * cs);
            long to = Math.min(e.end(), (dataEnd + cs - 1) / cs * cs);
            copy(e, from, to);
            at = to;
        }
    }

    private void copy(VolumeExtent e, long from, long to) throws IOException, FormatException {
        for (long pos = from; pos < to;) {
            int n = (int) Math.min(bufferSize, to - pos);
            ByteBuffer buffer = sink.buffer().limit(n);
            space.read(e, pos, buffer);
            sink.data(pos, buffer.flip());
            copied += n;
            pos += n;
            progress.at(pos, space.volumeSize());
        }
    }
}
