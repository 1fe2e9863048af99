/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.LibC;

/** {@link LoopDevices} with LOOP_CTL_GET_FREE and LOOP_CONFIGURE (include/uapi/linux/loop.h). */
public final class LoopIoctl implements LoopDevices {
    static final long LOOP_CLR_FD = 0x4C01;
    static final long LOOP_SET_CAPACITY = 0x4C07;
    static final long LOOP_CONFIGURE = 0x4C0A;
    static final long LOOP_CTL_GET_FREE = 0x4C82;
    /* struct loop_config and its struct loop_info64 */
    static final int SIZEOF_LOOP_CONFIG = 304;
    static final int CONFIG_FD = 0;
    static final int CONFIG_INFO = 8;
    static final int INFO_FLAGS = 52;
    static final int INFO_FILE_NAME = 56;
    static final int LO_NAME_SIZE = 64;
    static final int LO_FLAGS_READ_ONLY = 1;
    static final int LO_FLAGS_DIRECT_IO = 16;

    /** Find, LOOP_CTL_GET_FREE and LOOP_CONFIGURE are one step within this process. */
    private static final Object ATTACH_LOCK = new Object();
    private static final int ATTACH_TRIES = 10;

    /**
     * Backing file to loop device, from one scan of sysfs and this daemon's own attaches and
     * detaches since (under {@link #ATTACH_LOCK}; null until the first attach). A scan per attach
     * reads every loop's backing file: with a volume's CoW loop and the shared base for each of
     * N volumes, N^2 sysfs reads at start-up (about a minute of emulated CPU at 1,024 volumes).
     * A loop that another program attaches after the scan is not found (a second one is attached
     * for that file); a hit is checked against sysfs before it is used.
     */
    private Map<Path, Path> attached;

    @Override
    public Loop attach(Path file, boolean readOnly) throws IOException {
        Path real = file.toRealPath();
        // Volumes start concurrently: without the lock two of them get the same free device.
        synchronized (ATTACH_LOCK) {
            Path existing = known(real);
            if (existing != null) {
                return new Loop(existing, BlockDevices.majorMinor(existing));
            }
            for (int attempt = 1;; attempt++) {
                try {
                    Loop loop = attachFree(file, readOnly);
                    attached.put(real, loop.device());
                    return loop;
                } catch (LibC.ErrnoException e) {
                    // Another process took the free device between the two ioctls: retry, as losetup does.
                    if (e.errno() != LibC.EBUSY || attempt == ATTACH_TRIES) {
                        throw e;
                    }
                }
            }
        }
    }

    /** The loop device attached to {@code file} (a real path), or null; scans sysfs when unsure. */
    private Path known(Path file) throws IOException {
        if (attached == null) {
            attached = scan();
        }
        Path loop = attached.get(file);
        if (loop != null && !file.toString().equals(backingFile(loop.getFileName().toString()))) {
            // detached or re-attached behind our back: the whole index is suspect
            attached = scan();
            loop = attached.get(file);
        }
        return loop;
    }

    private static Loop attachFree(Path file, boolean readOnly) throws IOException {
        int ctl = LibC.open("/dev/loop-control", LibC.O_RDWR);
        int n;
        try {
            n = LibC.ffi().ioctl(ctl, LOOP_CTL_GET_FREE, 0L);
            if (n < 0) {
                throw LibC.error("no free loop device for " + file);
            }
        } finally {
            LibC.posix().close(ctl);
        }
        Path loop = Path.of("/dev/loop" + n);
        int fileFd = LibC.open(file.toString(), readOnly ? LibC.O_RDONLY : LibC.O_RDWR);
        try {
            int loopFd = LibC.open(loop.toString(), readOnly ? LibC.O_RDONLY : LibC.O_RDWR);
            try {
                byte[] config = config(fileFd, file, readOnly);
                if (LibC.ffi().ioctl(loopFd, LOOP_CONFIGURE, config) < 0) {
                    throw LibC.error("attach " + file + " to " + loop);
                }
            } finally {
                LibC.posix().close(loopFd);
            }
        } finally {
            LibC.posix().close(fileFd);
        }
        return new Loop(loop, BlockDevices.majorMinor(loop));
    }

    static byte[] config(int fd, Path file, boolean readOnly) {
        ByteBuffer b = ByteBuffer.allocate(SIZEOF_LOOP_CONFIG).order(ByteOrder.nativeOrder());
        b.putInt(CONFIG_FD, fd);
        // No autoclear: it would detach the loop when this daemon closes it, before the table opens
        // it. A writable file is a CoW space, one guest's private data: direct I/O keeps a second
        // copy of it out of the host's page cache, as QEMU's cache=none does (the kernel falls back
        // to buffered I/O where the file system cannot do direct I/O, e.g. tmpfs before 6.6). A
        // read-only base stays cached: many guests share it.
        b.putInt(CONFIG_INFO + INFO_FLAGS, readOnly ? LO_FLAGS_READ_ONLY : LO_FLAGS_DIRECT_IO);
        byte[] name = file.toString().getBytes(StandardCharsets.UTF_8);
        b.put(CONFIG_INFO + INFO_FILE_NAME, name, 0, Math.min(name.length, LO_NAME_SIZE - 1));
        return b.array();
    }

    /** Every attached loop device by its backing file, from sysfs. */
    private static Map<Path, Path> scan() throws IOException {
        Map<Path, Path> found = new HashMap<>();
        Path sys = Path.of("/sys/block");
        if (!Files.isDirectory(sys)) {
            return found;
        }
        try (Stream<Path> blocks = Files.list(sys)) {
            for (Path b : (Iterable<Path>) blocks::iterator) {
                String name = b.getFileName().toString();
                String backing = name.startsWith("loop") ? backingFile(name) : null;
                if (backing != null) {
                    found.putIfAbsent(Path.of(backing), Path.of("/dev", name));
                }
            }
        }
        return found;
    }

    /** The backing file of /dev/NAME as sysfs shows it, or null when it has none. */
    private static String backingFile(String name) throws IOException {
        Path backing = Path.of("/sys/block", name, "loop/backing_file");
        try {
            return Files.readString(backing).trim();
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public void refreshCapacity(Path loop) throws IOException {
        ioctl(loop, LOOP_SET_CAPACITY, "refresh the capacity of " + loop);
    }

    @Override
    public void detach(Path loop) throws IOException {
        ioctl(loop, LOOP_CLR_FD, "detach " + loop);
        synchronized (ATTACH_LOCK) {
            if (attached != null) {
                attached.values().remove(loop);
            }
        }
    }

    private static void ioctl(Path loop, long request, String what) throws IOException {
        int fd = LibC.open(loop.toString(), LibC.O_RDONLY);
        try {
            if (LibC.ffi().ioctl(fd, request, 0L) < 0) {
                throw LibC.error(what);
            }
        } finally {
            LibC.posix().close(fd);
        }
    }
}
