/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import org.dmcow.format.ZeroBytes;

/** A raw image file of the volume's size; chunks of zeros are left as holes, as {@code qemu-img convert} does. */
public final class RawSink implements ImageSink {
    private final RandomAccessFile file;
    private final FileChannel channel;
    private final long chunkSize;

    private RawSink(RandomAccessFile file, long chunkSize) {
        this.file = file;
        this.channel = file.getChannel();
        this.chunkSize = chunkSize;
    }

    /** A new sparse file of {@code size} bytes; {@code chunkSize}: the granularity of holes. */
    public static RawSink create(Path path, long size, long chunkSize) throws IOException {
        RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw");
        try {
            f.setLength(size);
        } catch (IOException e) {
            f.close();
            throw e;
        }
        return new RawSink(f, chunkSize);
    }

    @Override
    public void data(long start, ByteBuffer bytes) throws IOException {
        ByteBuffer src = bytes.slice();
        int runFrom = -1;
        for (int at = 0; at < src.limit(); at += (int) chunkSize) {
            boolean zeros = ZeroBytes.all(src, at, (int) Math.min(src.limit(), at + chunkSize));
            if (zeros && runFrom >= 0) {
                write(src.duplicate().position(runFrom).limit(at), start + runFrom);
                runFrom = -1;
            } else if (!zeros && runFrom < 0) {
                runFrom = at;
            }
        }
        if (runFrom >= 0) {
            write(src.duplicate().position(runFrom), start + runFrom);
        }
    }

    private void write(ByteBuffer run, long position) throws IOException {
        long pos = position;
        while (run.hasRemaining()) {
            pos += channel.write(run, pos);
        }
    }

    /** A raw image has no base to hide: what it does not hold reads as zeros already. */
    @Override
    public void zeros(long start, long length) {
    }

    @Override
    public void finish() throws IOException {
        channel.force(true);
    }

    @Override
    public long outputBytes() throws IOException {
        return channel.size();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
