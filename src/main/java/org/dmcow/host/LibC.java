/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.io.IOException;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/**
 * The libc calls the JDK does not offer: raw descriptors, ioctl, OFD locks, SEEK_DATA, mlockall,
 * mknod. What jnr-posix provides goes through it ({@link #posix()}); {@link #ffi()} binds the rest.
 */
public final class LibC {
    /**
     * What jnr-posix lacks: ioctl with a struct buffer, fcntl with a {@code struct flock} (its
     * {@code Flock} has no Linux layout), fallocate, mlockall, mknod, socket/sendto for an AF_UNIX datagram, and prctl.
     * errno is saved after every call.
     */
    public interface Native {
        @SaveError
        int ioctl(int fd, long request, @In @Out byte[] arg);

        @SaveError
        int ioctl(int fd, long request, long arg);

        /** fcntl with a {@code struct flock} (the lock commands). */
        @SaveError
        int fcntl(int fd, int cmd, @In @Out byte[] flock);

        @SaveError
        int mlockall(int flags);

        @SaveError
        int mknod(String path, int mode, long dev);

        @SaveError
        int socket(int domain, int type, int protocol);

        @SaveError
        @ssize_t
        long sendto(int fd, @In byte[] buf, @size_t long len, int flags, @In byte[] addr, int addrlen);

        @SaveError
        int fallocate(int fd, int mode, long offset, long len);

        @SaveError
        int prctl(int option, long arg2, long arg3, long arg4, long arg5);
    }

    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_EXCL = 0200;
    public static final int O_CLOEXEC = 02000000;
    public static final int AF_UNIX = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int MCL_CURRENT = 1;
    public static final int MCL_FUTURE = 2;
    public static final int S_IFBLK = 0060000;
    public static final int EINVAL = 22;
    public static final int ENXIO = 6;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int EOPNOTSUPP = 95;
    /** fallocate: make a hole, keeping the size. */
    public static final int FALLOC_FL_PUNCH_HOLE_KEEP_SIZE = 0x01 | 0x02;
    /** ioctl: discard a byte range {start, length} of a block device. */
    public static final long BLKDISCARD = 0x1277;

    private static final class Holder {
        static final POSIX POSIX = POSIXFactory.getNativePOSIX();
        static final Native FFI = LibraryLoader.create(Native.class).load("c");
    }

    private LibC() {
    }

    /** open, close, dup, read, write, lseek, strerror, errno: jnr-posix's. */
    public static POSIX posix() {
        return Holder.POSIX;
    }

    /** The calls jnr-posix lacks. */
    public static Native ffi() {
        return Holder.FFI;
    }

    /** The errno of this thread's last call, through either binding. */
    public static int errno() {
        return posix().errno();
    }

    /** An IOException for a failed call, carrying errno. */
    public static ErrnoException error(String what) {
        int e = errno();
        return new ErrnoException(what + ": " + posix().strerror(e) + " (errno " + e + ")", e);
    }

    /** Opens a file as a raw descriptor. */
    public static int open(String path, int flags) throws IOException {
        int fd = posix().open(path, flags | O_CLOEXEC, 0);
        if (fd < 0) {
            throw error(path);
        }
        return fd;
    }

    /** A failed system call; {@link #errno()} says which error. */
    public static final class ErrnoException extends IOException {
        private static final long serialVersionUID = 1L;
        private final int errno;

        public ErrnoException(String message, int errno) {
            super(message);
            this.errno = errno;
        }

        public int errno() {
            return errno;
        }
    }
}
