/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Facts about block devices the JDK does not give directly, read from sysfs. */
public final class BlockDevices {
    private BlockDevices() {
    }

    /** True when {@code path} is a block device node (following symlinks). */
    public static boolean isBlockDevice(Path path) throws IOException {
        if (!Files.exists(path)) {
            return false;
        }
        Object mode = Files.getAttribute(path, "unix:mode");
        return mode instanceof Integer m && (m & 0170000) == 0060000;
    }

    /** The device's size in bytes, from /sys/dev/block/MAJOR:MINOR/size (512-byte sectors). */
    public static long size(Path device) throws IOException {
        Path sys = Path.of("/sys/dev/block", majorMinor(device), "size");
        try {
            return Long.parseLong(Files.readString(sys).trim()) * 512;
        } catch (NumberFormatException e) {
            throw new IOException(device + ": unreadable size in " + sys);
        }
    }

    /** "MAJOR:MINOR" of a block device node. */
    public static String majorMinor(Path device) throws IOException {
        long rdev = ((Number) Files.getAttribute(device, "unix:rdev")).longValue();
        return major(rdev) + ":" + minor(rdev);
    }

    /** The major number of a dev_t, in glibc's encoding. */
    public static long major(long dev) {
        return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
    }

    public static long minor(long dev) {
        return (dev & 0xff) | ((dev >>> 12) & ~0xffL);
    }

    /**
     * The devices that hold {@code device} (a device-mapper table over it, say), from sysfs:
     * "dm-3 (vm1)", with the device-mapper name where there is one; empty when none does.
     */
    public static String holders(Path device) throws IOException {
        return holders(majorMinor(device));
    }

    /** {@link #holders(Path)} by "MAJOR:MINOR". */
    public static String holders(String majorMinor) {
        Path dir = Path.of("/sys/dev/block", majorMinor, "holders");
        List<String> names = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : (Iterable<Path>) list::iterator) {
                String name = p.getFileName().toString();
                Path dmName = p.resolve("dm/name");
                names.add(Files.isReadable(dmName) ? name + " (" + Files.readString(dmName).trim() + ")" : name);
            }
        } catch (IOException e) {
            // no sysfs entry: nothing to name
        }
        return String.join(", ", names);
    }

    /**
     * The device-mapper devices that hold {@code path}: the device itself, or for a file the loop
     * devices over it ("/dev/mapper/vm1"); how {@code dmcowctl info} finds which volume serves a
     * space.
     */
    public static List<String> mappedBy(Path path) throws IOException {
        List<String> found = new ArrayList<>();
        if (isBlockDevice(path)) {
            mappers(majorMinor(path), found);
            return found;
        }
        String file = path.toRealPath().toString();
        try (Stream<Path> blocks = Files.list(Path.of("/sys/block"))) {
            for (Path b : (Iterable<Path>) blocks::iterator) {
                Path backing = b.resolve("loop/backing_file");
                if (Files.isReadable(backing) && Files.readString(backing).trim().equals(file)) {
                    mappers(Files.readString(b.resolve("dev")).trim(), found);
                }
            }
        }
        return found;
    }

    private static void mappers(String majorMinor, List<String> found) throws IOException {
        try (Stream<Path> holders = Files.list(Path.of("/sys/dev/block", majorMinor, "holders"))) {
            for (Path h : (Iterable<Path>) holders::iterator) {
                Path name = h.resolve("dm/name");
                if (Files.isReadable(name)) {
                    found.add("/dev/mapper/" + Files.readString(name).trim());
                }
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // no holders directory: nothing holds it
        }
    }
}
