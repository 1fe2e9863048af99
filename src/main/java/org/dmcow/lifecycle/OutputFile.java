/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.dmcow.format.FormatException;
import org.dmcow.host.ImageLock;
import org.dmcow.host.StorageIdentity;

/**
 * The file an offline command writes, made whole or not at all: the command writes a hidden file
 * beside it, which replaces the output only once complete and durable; a refusal or a failure
 * leaves the output as it was. Refuses, before anything is written, an output that is the base or
 * the space being read (however named), a directory or device, an image another process uses, and
 * an existing file unless forced.
 */
public final class OutputFile implements Closeable {
    private final Path target;
    private final Path temp;
    private final ImageLock lock;
    private boolean committed;

    private OutputFile(Path target, Path temp, ImageLock lock) {
        this.target = target;
        this.temp = temp;
        this.lock = lock;
    }

    /** Claims {@code out}; {@code base} and {@code space} are read by the command and never written. */
    public static OutputFile claim(Path out, boolean force, Path base, Path space) throws IOException,
            FormatException {
        refuseOverlap(out, base, "is the base " + base, "a base is never written, not even with --force");
        refuseOverlap(out, space, "is the CoW space " + space + " being read", "not even with --force");
        ImageLock lock = ImageLock.none(out);
        if (Files.exists(out)) {
            if (!Files.isRegularFile(out)) {
                throw new FormatException(out + ": is not a regular file (" + (Files.isDirectory(out) ? "a directory"
                        : "a device or special file") + "); the output is written as a file only");
            }
            if (!force) {
                throw new FormatException(out + ": exists; use --force to replace it");
            }
            try {
                lock = ImageLock.take(out, ImageLock.Use.WRITE);
            } catch (ImageLock.ImageLockedException e) {
                throw new FormatException(e.getMessage() + "; not replaced, even with --force");
            }
        }
        Path dir = out.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            lock.close();
            throw new FormatException(out + ": no such directory " + dir);
        }
        Path temp = dir.resolve("." + out.getFileName() + ".dmcowctl-" + ProcessHandle.current().pid());
        Files.deleteIfExists(temp); // left by an earlier run of this pid that was killed
        return new OutputFile(out, temp, lock);
    }

    private static void refuseOverlap(Path out, Path protectedPath, String what, String why) throws IOException,
            FormatException {
        Optional<String> same = StorageIdentity.of(out).overlap(StorageIdentity.of(protectedPath));
        if (same.isPresent()) {
            throw new FormatException(out + ": " + what + " (" + same.get() + "); " + why);
        }
    }

    /** Where the command writes: a new file beside the output. */
    public Path temp() {
        return temp;
    }

    public Path target() {
        return target;
    }

    /** Makes the written file durable and puts it in the output's place, atomically. */
    public void commit() throws IOException {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(temp.getParent(), StandardOpenOption.READ)) {
            dir.force(true); // the rename itself durable
        }
        committed = true;
    }

    /** Drops the written file unless committed. */
    @Override
    public void close() throws IOException {
        try {
            if (!committed) {
                Files.deleteIfExists(temp);
            }
        } finally {
            lock.close();
        }
    }
}
