/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A file's data and holes as the file system reports them (lseek SEEK_DATA / SEEK_HOLE), so tools
 * skip what reads as zeros without reading it, as {@code cp --sparse} and {@code qemu-img} do. A
 * file system or device without them reports everything as data.
 */
public final class FileHoles implements Closeable {
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    private final int fd;
    private final long size;

    private FileHoles(int fd, long size) {
        this.fd = fd;
        this.size = size;
    }

    /** Opens {@code file} for asking; {@code size}: where its content ends (a device's size). */
    public static FileHoles open(Path file, long size) throws IOException {
        return new FileHoles(LibC.open(file.toString(), LibC.O_RDONLY), size);
    }

    /** The first byte of data at or after {@code at}, or the size when only holes follow. */
    public long nextData(long at) throws IOException {
        if (at >= size) {
            return size;
        }
        long data = LibC.posix().lseekLong(fd, at, SEEK_DATA);
        if (data < 0) {
            return LibC.errno() == LibC.ENXIO ? size : at; // ENXIO: holes to the end; else no SEEK_DATA here
        }
        return Math.min(data, size);
    }

    /** The end of the data that starts at {@code at} (the next hole), at most the size. */
    public long dataEnd(long at) throws IOException {
        long hole = LibC.posix().lseekLong(fd, at, SEEK_HOLE);
        return hole < 0 ? size : Math.min(hole, size);
    }

    @Override
    public void close() {
        LibC.posix().close(fd);
    }
}
