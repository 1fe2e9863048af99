/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/** The few libc calls the JDK does not offer: ioctl, raw descriptors, OFD locks, SEEK_DATA, mlockall, mknod. */
public final class LibC {
    /** The jnr-ffi binding; errno is saved after every call. */
    public interface Native {
        @SaveError
        int open(String path, int flags);

        @SaveError
        int close(int fd);

        @SaveError
        int dup(int fd);

        @SaveError
        @ssize_t
        long read(int fd, @Out ByteBuffer buf, @size_t long count);

        @SaveError
        @ssize_t
        long write(int fd, @In ByteBuffer buf, @size_t long count);

        @SaveError
        int ioctl(int fd, long request, @In @Out byte[] arg);

        @SaveError
        int ioctl(int fd, long request, long arg);

        /** fcntl with a {@code struct flock} (the lock commands). */
        @SaveError
        int fcntl(int fd, int cmd, @In @Out byte[] flock);

        @SaveError
        long lseek(int fd, long offset, int whence);

        @SaveError
        int mlockall(int flags);

        @SaveError
        int mknod(String path, int mode, long dev);

        @SaveError
        int socket(int domain, int type, int protocol);

        @SaveError
        @ssize_t
        long sendto(int fd, @In byte[] buf, @size_t long len, int flags, @In byte[] addr, int addrlen);

        String strerror(int errno);
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

    private static final class Holder {
        static final Native LIBC = LibraryLoader.create(Native.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    }

    private LibC() {
    }

    public static Native get() {
        return Holder.LIBC;
    }

    public static int errno() {
        return LastError.getLastError(Holder.RUNTIME);
    }

    /** An IOException for a failed call, carrying errno. */
    public static ErrnoException error(String what) {
        int e = errno();
        return new ErrnoException(what + ": " + get().strerror(e) + " (errno " + e + ")", e);
    }

    /** Opens a file as a raw descriptor. */
    public static int open(String path, int flags) throws IOException {
        int fd = get().open(path, flags | O_CLOEXEC);
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
