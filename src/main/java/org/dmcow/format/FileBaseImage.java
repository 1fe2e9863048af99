/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.dmcow.host.BlockDevices;

/** The base as a file or block device, opened read-only. */
public final class FileBaseImage implements BaseImage, AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final long size;

    private FileBaseImage(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    public static FileBaseImage open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = BlockDevices.isBlockDevice(path) ? BlockDevices.size(path) : ch.size();
            return new FileBaseImage(path, ch, size);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(ByteBuffer dst, long position) throws IOException {
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
    public void close() throws IOException {
        channel.close();
    }
}
