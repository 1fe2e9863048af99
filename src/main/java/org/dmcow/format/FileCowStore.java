/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.LibC;

/**
 * A CoW store on a regular file or a block device. Reads and writes use separate descriptors:
 * positional reads and writes on one {@link FileChannel} serialise on its position lock.
 */
public final class FileCowStore implements CowStore {
    /** Told the file's size after {@link #grow}, e.g. to refresh a loop device's capacity. */
    @FunctionalInterface
    public interface GrowthListener {
        void grown(long newSize) throws IOException;
    }

    /**
     * Bytes per read or write call at most. A heap buffer goes through a temporary direct buffer
     * of its size, which the JDK keeps per thread for reuse: one 8 MiB read per thread was 8 MiB
     * of resident memory per thread for good.
     */
    private static final int MAX_IO = 1 << 20;

    private final Path path;
    private final FileChannel reader;
    private final FileChannel writer;
    private final boolean blockDevice;
    private final GrowthListener growthListener;
    /**
     * The file's filesystem, found once: {@link Files#getFileStore} reads the mount table each
     * time (in a profile, 6 % of dmcowd's CPU during a qcow2 space's random first writes), while
     * {@link FileStore#getUsableSpace} asks the filesystem anew each time.
     */
    private FileStore fileStore;

    private FileCowStore(Path path, FileChannel reader, FileChannel writer, boolean blockDevice,
            GrowthListener growthListener) {
        this.path = path;
        this.reader = reader;
        this.writer = writer;
        this.blockDevice = blockDevice;
        this.growthListener = growthListener;
    }

    /** Opens an existing file or device for reading only; writes fail. */
    public static FileCowStore openReadOnly(Path path) throws IOException {
        FileChannel r = FileChannel.open(path, StandardOpenOption.READ);
        return new FileCowStore(path, r, null, BlockDevices.isBlockDevice(path), null);
    }

    /** Opens a file or device for reading and writing; a missing file is created when {@code create}. */
    public static FileCowStore open(Path path, boolean create, GrowthListener growthListener) throws IOException {
        FileChannel w = create
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel r;
        try {
            r = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            w.close();
            throw e;
        }
        return new FileCowStore(path, r, w, BlockDevices.isBlockDevice(path), growthListener);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public long size() throws IOException {
        return blockDevice ? BlockDevices.size(path) : reader.size();
    }

    @Override
    public void read(ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int limit = dst.limit();
            int n;
            dst.limit(Math.min(limit, dst.position() + MAX_IO));
            try {
                n = reader.read(dst, pos);
            } finally {
                dst.limit(limit);
            }
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            pos += n;
        }
    }

    @Override
    public void write(ByteBuffer src, long position) throws IOException {
        if (writer == null) {
            throw new IOException(path + ": opened read-only");
        }
        long pos = position;
        while (src.hasRemaining()) {
            int limit = src.limit();
            src.limit(Math.min(limit, src.position() + MAX_IO));
            try {
                pos += writer.write(src, pos);
            } finally {
                src.limit(limit);
            }
        }
    }

    @Override
    public void flush() throws IOException {
        if (writer != null) {
            writer.force(false);
        }
    }

    @Override
    public void grow(long newSize) throws IOException {
        if (blockDevice) {
            if (newSize > size()) {
                throw new IOException(path + ": a block device cannot grow (needed " + newSize + " bytes, have "
                        + size() + ")");
            }
            return; // the kernel sees a device's size itself
        }
        if (writer == null) {
            throw new IOException(path + ": opened read-only");
        }
        if (newSize > writer.size()) {
            writer.write(ByteBuffer.allocate(1), newSize - 1);
        }
        if (growthListener != null) {
            growthListener.grown(writer.size());
        }
    }

    @Override
    public void discard(long position, long length) throws IOException {
        if (writer == null) {
            throw new IOException(path + ": opened read-only");
        }
        int fd = LibC.open(path.toString(), LibC.O_RDWR);
        try {
            int r;
            if (blockDevice) {
                byte[] range = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder()).putLong(position)
                        .putLong(length).array();
                r = LibC.ffi().ioctl(fd, LibC.BLKDISCARD, range);
            } else {
                r = LibC.ffi().fallocate(fd, LibC.FALLOC_FL_PUNCH_HOLE_KEEP_SIZE, position, length);
            }
            // a filesystem without holes, a device without discard: the bytes stay, which is allowed
            if (r < 0 && LibC.errno() != LibC.EOPNOTSUPP) {
                throw LibC.error(path + ": discarding " + length + " bytes at " + position);
            }
        } finally {
            LibC.posix().close(fd);
        }
    }

    /** A file's filesystem's usable space now; a device's: nothing beyond its size. */
    @Override
    public long room() throws IOException {
        if (blockDevice) {
            return Long.MAX_VALUE;
        }
        if (fileStore == null) {
            fileStore = Files.getFileStore(path);
        }
        return fileStore.getUsableSpace();
    }

    @Override
    public boolean preallocated() throws IOException {
        return blockDevice || LibC.posix().stat(path.toString()).blocks() * 512 >= writer.size();
    }

    @Override
    public void close() throws IOException {
        try {
            reader.close();
        } finally {
            if (writer != null) {
                writer.close();
            }
        }
    }

    /** Whether {@code path} names a regular file that does not exist yet or is empty. */
    public static boolean isNewFile(Path path) throws IOException {
        return !Files.exists(path) || (Files.isRegularFile(path) && Files.size(path) == 0);
    }
}
