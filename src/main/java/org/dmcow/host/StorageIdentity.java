/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where a path's bytes live, however it is named: the file (device and inode, so symlinks, hard
 * links and {@code ..} paths agree) or the block device (its number), and beneath a device what it
 * merely presents: the file behind a loop device, the base and CoW space under a dm-cow volume.
 * Two paths whose identities share a piece reach the same bytes. Other device-mapper devices are
 * not looked through: two LVM volumes on one disk share the disk but not their bytes.
 */
public final class StorageIdentity {
    /** One place bytes live, and how the path reached it (empty when the path names it directly). */
    record Piece(String key, String how) {
    }

    private static final long LOOP_GET_STATUS64 = 0x4C05;
    private static final int SIZEOF_LOOP_INFO64 = 232;
    /** dmcowd creates every volume device with this uuid prefix. */
    public static final String DMCOW_UUID_PREFIX = "DMCOW-";
    private static final Path SYS_DEV_BLOCK = Path.of("/sys/dev/block");

    private final Path path;
    private final List<Piece> pieces;

    private StorageIdentity(Path path, List<Piece> pieces) {
        this.path = path;
        this.pieces = pieces;
    }

    /**
     * The identity of an existing file or block device; a path that does not exist yet is known by
     * its name alone (two such names are the same file once it is made).
     */
    public static StorageIdentity of(Path path) throws IOException {
        if (!Files.exists(path)) {
            return named(path);
        }
        List<Piece> pieces = new ArrayList<>();
        if (BlockDevices.isBlockDevice(path)) {
            long rdev = ((Number) Files.getAttribute(path, "unix:rdev")).longValue();
            addDevice(BlockDevices.major(rdev) + ":" + BlockDevices.minor(rdev), "", pieces, 0);
        } else {
            long dev = ((Number) Files.getAttribute(path, "unix:dev")).longValue();
            long ino = ((Number) Files.getAttribute(path, "unix:ino")).longValue();
            pieces.add(new Piece(fileKey(dev, ino), ""));
        }
        return new StorageIdentity(path, pieces);
    }

    /** A path known by its name alone: a missing or unreadable file. */
    public static StorageIdentity named(Path path) {
        return new StorageIdentity(path, List.of(new Piece("path " + path.toAbsolutePath().normalize(), "")));
    }

    /** The name of the dm-cow volume whose device {@code path} is, if it is one. */
    public static Optional<String> dmcowVolume(Path path) {
        try {
            if (!BlockDevices.isBlockDevice(path)) {
                return Optional.empty();
            }
            String uuid = readTrimmed(SYS_DEV_BLOCK.resolve(BlockDevices.majorMinor(path)).resolve("dm/uuid"));
            return uuid.startsWith(DMCOW_UUID_PREFIX) ? Optional.of(uuid.substring(DMCOW_UUID_PREFIX.length()))
                    : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public Path path() {
        return path;
    }

    /**
     * How this path reaches the bytes of {@code other}, for a message ("the same file",
     * "/dev/loop3 is backed by it"), or empty when they share nothing.
     */
    public Optional<String> overlap(StorageIdentity other) {
        for (Piece mine : pieces) {
            for (Piece theirs : other.pieces) {
                if (mine.key().equals(theirs.key())) {
                    return Optional.of(describe(mine, theirs));
                }
            }
        }
        return Optional.empty();
    }

    private static String describe(Piece mine, Piece theirs) {
        if (mine.how().isEmpty() && theirs.how().isEmpty()) {
            return mine.key().startsWith("device ") ? "the same block device" : "the same file";
        }
        List<String> ways = new ArrayList<>();
        if (!mine.how().isEmpty()) {
            ways.add(mine.how());
        }
        if (!theirs.how().isEmpty()) {
            ways.add(theirs.how());
        }
        return String.join("; ", ways);
    }

    private static String fileKey(long dev, long ino) {
        return "file " + dev + ":" + ino;
    }

    private static void addDevice(String majorMinor, String how, List<Piece> pieces, int depth) throws IOException {
        pieces.add(new Piece("device " + majorMinor, how));
        if (depth > 8) {
            return; // device stacks are shallow; a loop in sysfs must not recurse forever
        }
        Path sys = SYS_DEV_BLOCK.resolve(majorMinor);
        String name = deviceName(sys);
        if (Files.isDirectory(sys.resolve("loop"))) {
            long[] backing = loopBacking(Path.of("/dev", name));
            if (backing != null) {
                String file = readTrimmed(sys.resolve("loop/backing_file"));
                pieces.add(new Piece(fileKey(backing[0], backing[1]), then(how, "/dev/" + name
                        + " is a loop device backed by " + (file.isEmpty() ? "the file" : file))));
            }
        }
        String uuid = readTrimmed(sys.resolve("dm/uuid"));
        if (uuid.startsWith(DMCOW_UUID_PREFIX)) {
            String volume = readTrimmed(sys.resolve("dm/name"));
            try (Stream<Path> slaves = Files.list(sys.resolve("slaves"))) {
                for (Path slave : (Iterable<Path>) slaves::iterator) {
                    String below = readTrimmed(slave.resolve("dev"));
                    if (!below.isEmpty()) {
                        addDevice(below, then(how, "/dev/mapper/" + volume + " is a dm-cow volume over /dev/"
                                + slave.getFileName()), pieces, depth + 1);
                    }
                }
            }
        }
    }

    /** A step appended to the way a piece was reached. */
    private static String then(String how, String step) {
        return how.isEmpty() ? step : how + ", " + step;
    }

    /** The kernel's name of a device ("loop3", "dm-2"), from its uevent. */
    private static String deviceName(Path sys) throws IOException {
        for (String line : readTrimmed(sys.resolve("uevent")).split("\n")) {
            if (line.startsWith("DEVNAME=")) {
                return line.substring("DEVNAME=".length());
            }
        }
        return sys.toRealPath().getFileName().toString();
    }

    /** {device, inode} of the file behind a bound loop device (LOOP_GET_STATUS64), or null. */
    private static long[] loopBacking(Path loop) {
        if (!Files.exists(loop, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        int fd;
        try {
            fd = LibC.open(loop.toString(), LibC.O_RDONLY);
        } catch (IOException e) {
            return null;
        }
        try {
            byte[] info = new byte[SIZEOF_LOOP_INFO64];
            if (LibC.ffi().ioctl(fd, LOOP_GET_STATUS64, info) < 0) {
                return null; // not bound to a file
            }
            ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.nativeOrder());
            return new long[] {b.getLong(0), b.getLong(8)};
        } finally {
            LibC.posix().close(fd);
        }
    }

    private static String readTrimmed(Path file) throws IOException {
        try {
            return Files.readString(file).trim();
        } catch (NoSuchFileException e) {
            return "";
        }
    }
}
