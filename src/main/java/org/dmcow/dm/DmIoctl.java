/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.LibC;

/** {@link DeviceMapper} over the ioctls of /dev/mapper/control (include/uapi/linux/dm-ioctl.h). */
public final class DmIoctl implements DeviceMapper {
    /* struct dm_ioctl; DmIoctlHeaderTest checks these against the installed header. */
    static final int SIZEOF_DM_IOCTL = 312;
    static final int OFF_VERSION = 0;
    static final int OFF_DATA_SIZE = 12;
    static final int OFF_DATA_START = 16;
    static final int OFF_TARGET_COUNT = 20;
    static final int OFF_OPEN_COUNT = 24;
    static final int OFF_FLAGS = 28;
    static final int OFF_DEV = 40;
    static final int OFF_NAME = 48;
    static final int OFF_UUID = 176;
    static final int NAME_LEN = 128;
    static final int UUID_LEN = 129;
    /* struct dm_target_spec */
    static final int SIZEOF_TARGET_SPEC = 40;
    static final int SPEC_SECTOR_START = 0;
    static final int SPEC_LENGTH = 8;
    static final int SPEC_STATUS = 16;
    static final int SPEC_NEXT = 20;
    static final int SPEC_TARGET_TYPE = 24;
    static final int MAX_TYPE_NAME = 16;

    static final int DM_DEV_CREATE = 3;
    static final int DM_DEV_REMOVE = 4;
    static final int DM_DEV_SUSPEND = 6;
    static final int DM_DEV_STATUS = 7;
    static final int DM_TABLE_LOAD = 9;
    static final int DM_TABLE_STATUS = 12;

    static final int DM_SUSPEND_FLAG = 1 << 1;
    static final int DM_STATUS_TABLE_FLAG = 1 << 4;
    static final int DM_ACTIVE_PRESENT_FLAG = 1 << 5;
    static final int DM_BUFFER_FULL_FLAG = 1 << 8;
    static final int DM_SKIP_LOCKFS_FLAG = 1 << 10;
    static final int DM_NOFLUSH_FLAG = 1 << 11;

    private final String control;

    public DmIoctl(String control) {
        this.control = control;
    }

    public DmIoctl() {
        this("/dev/mapper/control");
    }

    /** _IOWR(DM_IOCTL, cmd, struct dm_ioctl). */
    static long request(int cmd) {
        return (3L << 30) | ((long) SIZEOF_DM_IOCTL << 16) | (0xfdL << 8) | cmd;
    }

    /** A dm_ioctl header for device {@code name} in a buffer of {@code size} bytes. */
    static ByteBuffer header(String name, int size, int flags) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
        b.putInt(OFF_VERSION, 4).putInt(OFF_VERSION + 4, 0).putInt(OFF_VERSION + 8, 0);
        b.putInt(OFF_DATA_SIZE, size).putInt(OFF_DATA_START, SIZEOF_DM_IOCTL).putInt(OFF_FLAGS, flags);
        putString(b, OFF_NAME, NAME_LEN, name, "device name");
        return b;
    }

    private static void putString(ByteBuffer b, int off, int len, String s, String what) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= len) {
            throw new IllegalArgumentException(what + " longer than " + (len - 1) + " bytes: " + s);
        }
        b.put(off, bytes);
    }

    /** The DM_TABLE_LOAD buffer: header, then each target spec followed by its padded params. */
    static ByteBuffer loadBuffer(String name, List<Target> table) {
        int size = SIZEOF_DM_IOCTL;
        for (Target t : table) {
            size += specSize(t);
        }
        ByteBuffer b = header(name, size, 0);
        b.putInt(OFF_TARGET_COUNT, table.size());
        int off = SIZEOF_DM_IOCTL;
        for (Target t : table) {
            int n = specSize(t);
            b.putLong(off + SPEC_SECTOR_START, t.start()).putLong(off + SPEC_LENGTH, t.length());
            b.putInt(off + SPEC_NEXT, n);
            putString(b, off + SPEC_TARGET_TYPE, MAX_TYPE_NAME, t.type(), "target type");
            b.put(off + SIZEOF_TARGET_SPEC, t.params().getBytes(StandardCharsets.UTF_8));
            off += n;
        }
        return b;
    }

    private static int specSize(Target t) {
        int params = t.params().getBytes(StandardCharsets.UTF_8).length + 1;
        return SIZEOF_TARGET_SPEC + ((params + 7) & ~7);
    }

    /** Parses the targets of a DM_TABLE_STATUS reply. */
    static List<Target> parseTable(ByteBuffer b) {
        int count = b.getInt(OFF_TARGET_COUNT);
        int first = b.getInt(OFF_DATA_START);
        List<Target> out = new ArrayList<>(count);
        int off = first;
        for (int i = 0; i < count; i++) {
            String type = cString(b, off + SPEC_TARGET_TYPE, MAX_TYPE_NAME);
            String params = cString(b, off + SIZEOF_TARGET_SPEC, b.getInt(OFF_DATA_SIZE) - off - SIZEOF_TARGET_SPEC);
            out.add(new Target(b.getLong(off + SPEC_SECTOR_START), b.getLong(off + SPEC_LENGTH), type, params));
            off = first + b.getInt(off + SPEC_NEXT);
        }
        return out;
    }

    private static String cString(ByteBuffer b, int off, int max) {
        int n = 0;
        while (n < max && off + n < b.limit() && b.get(off + n) != 0) {
            n++;
        }
        byte[] s = new byte[n];
        b.get(off, s);
        return new String(s, StandardCharsets.UTF_8);
    }

    static DeviceStatus statusOf(ByteBuffer b) {
        long dev = b.getLong(OFF_DEV);
        int major = (int) ((dev >>> 8) & 0xfff);
        int minor = (int) ((dev & 0xff) | ((dev >>> 12) & 0xfff00));
        int flags = b.getInt(OFF_FLAGS);
        return new DeviceStatus(true, b.getInt(OFF_OPEN_COUNT), major, minor, b.getInt(OFF_TARGET_COUNT),
                (flags & DM_SUSPEND_FLAG) != 0);
    }

    private ByteBuffer call(int cmd, ByteBuffer b, String what) throws IOException {
        int fd = LibC.open(control, LibC.O_RDWR);
        try {
            byte[] arg = b.array();
            if (LibC.ffi().ioctl(fd, request(cmd), arg) < 0) {
                throw LibC.error(what);
            }
            return b;
        } finally {
            LibC.posix().close(fd);
        }
    }

    @Override
    public DeviceStatus status(String name) throws IOException {
        try {
            return statusOf(call(DM_DEV_STATUS, header(name, SIZEOF_DM_IOCTL, 0), "status of " + name));
        } catch (LibC.ErrnoException e) {
            if (e.errno() == LibC.ENXIO) {
                return DeviceStatus.ABSENT;
            }
            throw e;
        }
    }

    @Override
    public DeviceStatus create(String name, String uuid) throws IOException {
        ByteBuffer b = header(name, SIZEOF_DM_IOCTL, 0);
        putString(b, OFF_UUID, UUID_LEN, uuid, "uuid");
        DeviceStatus s = statusOf(call(DM_DEV_CREATE, b, "create " + name));
        ensureNode(name, s);
        return s;
    }

    private static void ensureNode(String name, DeviceStatus s) throws IOException {
        ensureNode(Path.of("/dev/mapper", name), s.major(), s.minor());
    }

    /**
     * Without udev (a minimal host, the test VM) nobody else makes /dev/mapper/NAME. Nor does
     * {@code dmsetup remove} always delete it there: a node left from an earlier device of the same
     * name holds that device's number, which the kernel may since have given to another volume,
     * so a node with the wrong number is replaced. udev's symlinks are udev's business.
     */
    static void ensureNode(Path node, int major, int minor) throws IOException {
        long dev = ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8)
                | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
        if (Files.isSymbolicLink(node)) {
            return;
        }
        if (Files.exists(node, LinkOption.NOFOLLOW_LINKS)) {
            Object rdev = Files.getAttribute(node, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
            if (Files.readAttributes(node, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther()
                    && rdev instanceof Long r && r == dev) {
                return;
            }
            Files.delete(node);
        }
        if (LibC.ffi().mknod(node.toString(), LibC.S_IFBLK | 0600, dev) < 0) {
            throw LibC.error("create the device node " + node);
        }
    }

    @Override
    public String holders(String name, DeviceStatus status) {
        String names = BlockDevices.holders(status.major() + ":" + status.minor());
        return "open " + status.openCount() + " time(s)" + (names.isEmpty() ? "" : ", held by " + names);
    }

    @Override
    public void load(String name, List<Target> table) throws IOException {
        call(DM_TABLE_LOAD, loadBuffer(name, table), "load a table of " + table.size() + " targets into " + name);
    }

    @Override
    public void suspendNoflush(String name) throws IOException {
        call(DM_DEV_SUSPEND, header(name, SIZEOF_DM_IOCTL, DM_SUSPEND_FLAG | DM_NOFLUSH_FLAG | DM_SKIP_LOCKFS_FLAG),
                "suspend " + name);
    }

    @Override
    public void resume(String name) throws IOException {
        call(DM_DEV_SUSPEND, header(name, SIZEOF_DM_IOCTL, 0), "resume " + name);
    }

    @Override
    public void remove(String name) throws IOException {
        call(DM_DEV_REMOVE, header(name, SIZEOF_DM_IOCTL, 0), "remove " + name);
        Path node = Path.of("/dev/mapper", name);
        if (Files.exists(node, LinkOption.NOFOLLOW_LINKS) && !Files.isSymbolicLink(node)) {
            Files.deleteIfExists(node);
        }
    }

    @Override
    public List<Target> table(String name) throws IOException {
        for (int size = 16384;; size *= 4) {
            ByteBuffer b = call(DM_TABLE_STATUS, header(name, size, DM_STATUS_TABLE_FLAG), "table of " + name);
            if ((b.getInt(OFF_FLAGS) & DM_BUFFER_FULL_FLAG) == 0) {
                return parseTable(b);
            }
        }
    }
}
