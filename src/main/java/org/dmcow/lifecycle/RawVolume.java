/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.FileHoles;

/** A raw image file or block device, read-only; its holes are known zeros. */
public final class RawVolume implements VolumeSource {
    private final Path path;
    private final FileChannel channel;
    private final FileHoles holes;
    private final long size;

    private RawVolume(Path path, FileChannel channel, FileHoles holes, long size) {
        this.path = path;
        this.channel = channel;
        this.holes = holes;
        this.size = size;
    }

    public static RawVolume open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = BlockDevices.isBlockDevice(path) ? BlockDevices.size(path) : ch.size();
            return new RawVolume(path, ch, FileHoles.open(path, size), size);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long position, ByteBuffer dst) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new IOException(path + ": read past the end at " + pos);
            }
            pos += n;
        }
    }

    @Override
    public long zerosEnd(long position) throws IOException {
        return holes.nextData(position);
    }

    @Override
    public void close() throws IOException {
        try {
            holes.close();
        } finally {
            channel.close();
        }
    }
}
