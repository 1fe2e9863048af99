/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The image locks QEMU's file driver takes (block/file-posix.c): open file description (OFD)
 * read locks on single bytes, byte 100 + p for each permission p the holder uses and byte 200 + p
 * for each permission it does not share with others. A new holder first takes its own bytes, then
 * tests whether a write lock on each opposite byte would be granted; one that would not means a
 * conflict. dmcowd, {@code dmcowctl format}, QEMU and {@code qemu-img} therefore see each other:
 * while dmcowd serves a CoW space, {@code qemu-io} cannot open it for writing and
 * {@code qemu-img info -U} still reads it.
 *
 * <p>OFD locks belong to the open file description, not the process: they survive other
 * descriptors of the file being closed, and two descriptors in one process conflict like two
 * processes (a second volume of this daemon on the same space is refused too).
 */
public final class ImageLock implements Closeable {
    /** QEMU's BLK_PERM_* bits, by position: their names appear in the conflict message. */
    private static final String[] PERMISSIONS = {"consistent read", "write", "write unchanged", "resize"};
    private static final int CONSISTENT_READ_PERM = 0;
    private static final int WRITE_PERM = 1;
    private static final int RESIZE_PERM = 3;
    static final int PERM_BASE = 100;
    static final int SHARED_BASE = 200;

    /* fcntl(2) on Linux x86-64: struct flock and the OFD commands */
    private static final int F_OFD_GETLK = 36;
    private static final int F_OFD_SETLK = 37;
    private static final short F_RDLCK = 0;
    private static final short F_WRLCK = 1;
    private static final short F_UNLCK = 2;
    private static final int SIZEOF_FLOCK = 32;

    /** What the holder does with the image, and so which bytes it locks. */
    public enum Use {
        /**
         * A written image, as QEMU holds a qcow2 disk's file: it reads, writes and resizes, and
         * shares neither writing nor resizing. A served CoW space; a space being formatted.
         */
        WRITE(List.of(CONSISTENT_READ_PERM, WRITE_PERM, RESIZE_PERM), List.of(WRITE_PERM, RESIZE_PERM)),
        /**
         * A base: read, shared with every reader, and, unlike QEMU's backing files, shared with no
         * writer: a written base corrupts every space over it.
         */
        READ(List.of(CONSISTENT_READ_PERM), List.of(WRITE_PERM, RESIZE_PERM));

        /* in QEMU's order, lowest bit first, so a conflict names the permission QEMU would */
        final List<Integer> uses;
        final List<Integer> unshared;

        Use(List<Integer> uses, List<Integer> unshared) {
            this.uses = uses;
            this.unshared = unshared;
        }
    }

    private final Path path;
    private final int fd;
    private final String unsupported;

    private ImageLock(Path path, int fd, String unsupported) {
        this.path = path;
        this.fd = fd;
        this.unsupported = unsupported;
    }

    /**
     * Locks {@code path} for {@code use}, or throws {@link ImageLockedException} naming the
     * permission another holder keeps. A file system without OFD locks gives a lock that holds
     * nothing, with {@link #unsupported()} saying why (QEMU's locking=auto does the same).
     */
    public static ImageLock take(Path path, Use use) throws IOException {
        int fd = LibC.open(path.toString(), LibC.O_RDONLY);
        String conflict;
        try {
            for (int p : use.uses) {
                setReadLock(fd, PERM_BASE + p);
            }
            for (int p : use.unshared) {
                setReadLock(fd, SHARED_BASE + p);
            }
            conflict = conflict(fd, use);
        } catch (LibC.ErrnoException e) {
            LibC.posix().close(fd);
            if (e.errno() == LibC.EAGAIN || e.errno() == LibC.EACCES) {
                throw locked(path, "an image");
            }
            return new ImageLock(path, -1, path + ": no image lock taken: " + e.getMessage());
        } catch (RuntimeException e) {
            LibC.posix().close(fd);
            throw e;
        }
        if (conflict != null) {
            LibC.posix().close(fd); // before looking for holders: this descriptor is not one
            throw locked(path, conflict);
        }
        return new ImageLock(path, fd, null);
    }

    /** No lock, for a file that does not exist yet: nothing can be using it. */
    public static ImageLock none(Path path) {
        return new ImageLock(path, -1, null);
    }

    /** The lock another holder keeps that {@code use} needs, as QEMU names it, or null. */
    private static String conflict(int fd, Use use) throws LibC.ErrnoException {
        for (int p : use.uses) {
            if (heldByOthers(fd, SHARED_BASE + p)) {
                return "\"" + PERMISSIONS[p] + "\"";
            }
        }
        for (int p : use.unshared) {
            if (heldByOthers(fd, PERM_BASE + p)) {
                return "shared \"" + PERMISSIONS[p] + "\"";
            }
        }
        return null;
    }

    /** Null when the lock holds; else why the file system gave none. */
    public String unsupported() {
        return unsupported;
    }

    public Path path() {
        return path;
    }

    /** Drops the lock: closing the descriptor releases its OFD locks. */
    @Override
    public void close() {
        if (fd >= 0) {
            LibC.posix().close(fd);
        }
    }

    private static void setReadLock(int fd, int offset) throws LibC.ErrnoException {
        if (LibC.ffi().fcntl(fd, F_OFD_SETLK, flock(F_RDLCK, offset)) < 0) {
            throw LibC.error("lock byte " + offset);
        }
    }

    /** Whether a write lock on the byte would be refused: another description holds a read lock on it. */
    private static boolean heldByOthers(int fd, int offset) throws LibC.ErrnoException {
        byte[] f = flock(F_WRLCK, offset);
        if (LibC.ffi().fcntl(fd, F_OFD_GETLK, f) < 0) {
            throw LibC.error("test byte " + offset);
        }
        return ByteBuffer.wrap(f).order(ByteOrder.nativeOrder()).getShort(0) != F_UNLCK;
    }

    private static byte[] flock(short type, int offset) {
        ByteBuffer b = ByteBuffer.allocate(SIZEOF_FLOCK).order(ByteOrder.nativeOrder());
        b.putShort(0, type).putShort(2, (short) 0).putLong(8, offset).putLong(16, 1);
        return b.array();
    }

    private static ImageLockedException locked(Path path, String what) {
        String holders = holders(path);
        return new ImageLockedException(path + ": in use: failed to get " + what + " lock ("
                + (holders.isEmpty() ? "is dmcowd serving it, or QEMU using it?" : "held by " + holders) + ")");
    }

    /**
     * Who has the file open, for the message: "pid 123 qemu-io". /proc/locks does not name the
     * owner of an OFD lock (its pid is -1), so this looks for the file among every process's
     * descriptors, as fuser does.
     */
    static String holders(Path path) {
        Set<String> found = new LinkedHashSet<>();
        try {
            Object file = Files.getAttribute(path, "unix:ino") + ":" + Files.getAttribute(path, "unix:dev");
            long self = ProcessHandle.current().pid();
            try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
                for (Path proc : procs) {
                    if (hasOpen(proc, file)) {
                        long pid = Long.parseLong(proc.getFileName().toString());
                        found.add(pid == self ? "this process" : "pid " + pid + command(proc));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return ""; // the message is complete without it
        }
        return String.join(", ", found);
    }

    private static boolean hasOpen(Path proc, Object file) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
            for (Path fd : fds) {
                try {
                    if (file.equals(Files.getAttribute(fd, "unix:ino") + ":" + Files.getAttribute(fd, "unix:dev"))) {
                        return true;
                    }
                } catch (IOException e) {
                    // closed meanwhile, or a socket: not the file
                }
            }
        } catch (IOException e) {
            return false; // the process exited, or its descriptors are not ours to see
        }
        return false;
    }

    /** " dmcowd" for a daemon (its process is a JVM), else the process's command name. */
    private static String command(Path proc) {
        try {
            for (String arg : Files.readString(proc.resolve("cmdline")).split("\0")) {
                if (arg.endsWith(".Dmcowd")) {
                    return " dmcowd";
                }
            }
            return " " + Files.readString(proc.resolve("comm")).trim();
        } catch (IOException e) {
            return "";
        }
    }

    /** Another holder keeps the image: the message names the file, the permission and the holder. */
    public static final class ImageLockedException extends IOException {
        private static final long serialVersionUID = 1L;

        public ImageLockedException(String message) {
            super(message);
        }
    }
}
