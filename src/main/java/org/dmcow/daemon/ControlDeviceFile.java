/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.dmcow.host.LibC;

/**
 * /dev/dm-cow. The kernel allows one open, so the write descriptor is a dup() of the read one:
 * a read blocked in the kernel must not stall the writes that answer faults.
 */
public final class ControlDeviceFile implements ControlDevice {
    private final Path path;
    private final int readFd;
    private final int writeFd;
    private final ByteBuffer readBuffer;
    private final ByteBuffer writeBuffer;

    private ControlDeviceFile(Path path, int readFd, int writeFd, int readBytes, int writeBytes) {
        this.path = path;
        this.readFd = readFd;
        this.writeFd = writeFd;
        this.readBuffer = ByteBuffer.allocateDirect(readBytes);
        this.writeBuffer = ByteBuffer.allocateDirect(writeBytes);
    }

    /** {@code readBytes}, {@code writeBytes}: the most one read or write moves (whole messages). */
    public static ControlDeviceFile open(Path path, int readBytes, int writeBytes) throws IOException {
        int fd = LibC.open(path.toString(), LibC.O_RDWR);
        int w = LibC.posix().dup(fd);
        if (w < 0) {
            IOException e = LibC.error("dup " + path);
            LibC.posix().close(fd);
            throw e;
        }
        return new ControlDeviceFile(path, fd, w, readBytes, writeBytes);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        // jnr passes a direct buffer's base address: always read at position 0 and copy.
        int want = Math.min(dst.remaining(), readBuffer.capacity());
        long n;
        do {
            n = LibC.posix().read(readFd, readBuffer.clear(), want);
        } while (n < 0 && LibC.errno() == LibC.EINTR);
        if (n < 0) {
            throw LibC.error("read " + path);
        }
        if (n == 0) {
            return -1;
        }
        dst.put(readBuffer.limit((int) n).position(0));
        return (int) n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int len = Math.min(src.remaining(), writeBuffer.capacity());
        writeBuffer.clear();
        writeBuffer.put(src.slice(src.position(), len)).flip();
        long n;
        do {
            n = LibC.posix().write(writeFd, writeBuffer, len);
        } while (n < 0 && LibC.errno() == LibC.EINTR);
        if (n < 0) {
            throw LibC.error("write " + path);
        }
        src.position(src.position() + (int) n);
        return (int) n;
    }

    @Override
    public void close() {
        LibC.posix().close(writeFd);
        LibC.posix().close(readFd);
    }
}
