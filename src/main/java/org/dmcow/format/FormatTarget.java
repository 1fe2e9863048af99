/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.FileHoles;
import org.dmcow.host.ImageLock;
import org.dmcow.host.LibC;
import org.dmcow.host.StorageIdentity;

/**
 * What every format checks before it writes a new space, in this order: the target is not the
 * base however named, not in use (a block device held open exclusively, a file under another
 * holder's image lock: a served space, a running QEMU), and holds nothing but zeros unless the
 * operator forces it. Only the last one yields to {@code --force}.
 */
public final class FormatTarget {
    /** A signature at a fixed offset, and what it means; the first that matches names the content. */
    private record Signature(long offset, byte[] magic, String what) {
        Signature(long offset, String magic, String what) {
            this(offset, magic.getBytes(StandardCharsets.ISO_8859_1), what);
        }
    }

    private static final List<Signature> SIGNATURES = List.of(
            new Signature(1080, "\u0053\u00ef", "an ext2/ext3/ext4 file system"),
            new Signature(0, "XFSB", "an XFS file system"),
            new Signature(0x10040, "_BHRfS_M", "a btrfs file system"),
            new Signature(3, "NTFS    ", "an NTFS file system"),
            new Signature(4086, "SWAPSPACE2", "a swap area"),
            new Signature(512, "LABELONE", "an LVM physical volume"),
            new Signature(0, "LUKS\u00ba\u00be", "a LUKS encrypted volume"),
            new Signature(0, "KDMV", "a VMDK image"),
            new Signature(0, "vhdxfile", "a VHDX image"),
            new Signature(0, "conectix", "a VHD image"),
            new Signature(0x8001, "CD001", "an ISO 9660 image"),
            new Signature(512, "EFI PART", "a GPT partition table"),
            new Signature(510, "\u0055\u00aa", "an MBR partition table or boot sector"));
    private static final int SCAN = 1 << 20;

    private FormatTarget() {
    }

    /**
     * Checks {@code request}'s target and returns the image lock held while the space is written
     * (none for a file that does not exist yet: nothing can be using it).
     */
    public static ImageLock claim(CowFormat.CreateRequest request) throws IOException, FormatException {
        Path cow = request.cow();
        refuseTheBase(cow, request.base().path());
        if (!Files.exists(cow)) {
            return ImageLock.none(cow);
        }
        boolean device = BlockDevices.isBlockDevice(cow);
        if (device) {
            refuseDeviceInUse(cow);
        }
        ImageLock lock;
        try {
            lock = ImageLock.take(cow, ImageLock.Use.WRITE);
        } catch (ImageLock.ImageLockedException e) {
            throw new FormatException(e.getMessage() + "; not formatted, even with --force");
        }
        try {
            if (!request.force()) {
                Optional<String> held = content(cow, device);
                if (held.isPresent()) {
                    throw new FormatException(cow + ": already holds " + held.get() + "; use --force to overwrite it");
                }
            }
            return lock;
        } catch (IOException | FormatException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private static void refuseTheBase(Path cow, Path base) throws IOException, FormatException {
        Optional<String> same = StorageIdentity.of(cow).overlap(StorageIdentity.of(base));
        if (same.isPresent()) {
            throw new FormatException(cow + ": is the base " + base + " (" + same.get()
                    + "); a base is never formatted, not even with --force");
        }
    }

    /** A mounted file system, a device-mapper table or RAID holds it exclusively, as mkfs finds out. */
    private static void refuseDeviceInUse(Path cow) throws IOException, FormatException {
        int fd = LibC.posix().open(cow.toString(), LibC.O_RDONLY | LibC.O_EXCL | LibC.O_CLOEXEC, 0);
        if (fd >= 0) {
            LibC.posix().close(fd);
            return;
        }
        int errno = LibC.errno();
        if (errno != LibC.EBUSY) {
            throw LibC.error(cow.toString());
        }
        String holders = BlockDevices.holders(cow);
        throw new FormatException(cow + ": in use (" + (holders.isEmpty() ? "mounted, or held by another device"
                : "held by " + holders) + "); not formatted, even with --force");
    }

    /**
     * What an existing target holds worth keeping: a CoW space, a known signature, or any non-zero
     * byte; empty when it is all zeros (a file made with truncate or fallocate, a fresh device).
     */
    static Optional<String> content(Path target, boolean device) throws IOException {
        try (FileCowStore store = FileCowStore.openReadOnly(target)) {
            for (CowFormat f : CowFormats.all()) {
                if (f.recognises(store)) {
                    return Optional.of("a " + f.name() + " CoW space");
                }
            }
        }
        try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ)) {
            for (Signature s : SIGNATURES) {
                ByteBuffer b = ByteBuffer.allocate(s.magic().length);
                if (ch.read(b, s.offset()) == s.magic().length && java.util.Arrays.equals(b.array(), s.magic())) {
                    return Optional.of(s.what());
                }
            }
            long nonZero = device ? firstNonZero(ch, 0, BlockDevices.size(target)) : firstNonZeroInData(target, ch);
            return nonZero < 0 ? Optional.empty() : Optional.of("data (a non-zero byte at offset " + nonZero + ")");
        }
    }

    /** The first non-zero byte of a file, reading only its data extents (holes read as zeros). */
    private static long firstNonZeroInData(Path file, FileChannel ch) throws IOException {
        try (FileHoles holes = FileHoles.open(file, ch.size())) {
            for (long at = holes.nextData(0); at < ch.size(); at = holes.nextData(at)) {
                long end = holes.dataEnd(at);
                long found = firstNonZero(ch, at, end);
                if (found >= 0) {
                    return found;
                }
                at = end;
            }
            return -1;
        }
    }

    private static long firstNonZero(FileChannel ch, long from, long to) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(SCAN);
        for (long at = from; at < to;) {
            buf.clear().limit((int) Math.min(SCAN, to - at));
            int n = ch.read(buf, at);
            if (n <= 0) {
                return -1;
            }
            for (int i = 0; i < n; i++) {
                if (buf.get(i) != 0) {
                    return at + i;
                }
            }
            at += n;
        }
        return -1;
    }
}
