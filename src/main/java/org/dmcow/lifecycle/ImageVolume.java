/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.qcow2.Qcow2Format;
import org.dmcow.host.ImageLock;

/**
 * An image as QEMU reads it, for {@code compare}'s other image: a raw file or device, or a qcow2
 * image over its backing chain (raw or qcow2 backing files, or none: zeros), each qcow2 image read
 * by the format's own code and locked for reading while it is read.
 */
public final class ImageVolume {
    /** Deeper chains are refused: a backing file that names itself, directly or not, has no end. */
    static final int MAX_CHAIN = 16;

    private ImageVolume() {
    }

    /** The image {@code path}: qcow2 when it carries qcow2's magic, else raw. */
    public static VolumeSource open(Path path) throws IOException, FormatException {
        return open(path, Optional.empty(), 0);
    }

    /** Whether {@code path} is a qcow2 image (its magic), not raw bytes. */
    public static boolean isQcow2(Path path) throws IOException {
        try (FileCowStore store = FileCowStore.openReadOnly(path)) {
            return new Qcow2Format().recognises(store);
        }
    }

    private static VolumeSource open(Path path, Optional<String> declared, int depth)
            throws IOException, FormatException {
        String format = declared.isPresent() ? declared.get() : isQcow2(path) ? "qcow2" : "raw";
        return switch (format) {
            case "raw" -> RawVolume.open(path);
            case "qcow2" -> qcow2(path, depth);
            default -> throw new FormatException(path + ": backing file format \"" + format
                    + "\" is not supported (raw or qcow2)");
        };
    }

    private static VolumeSource qcow2(Path path, int depth) throws IOException, FormatException {
        if (depth >= MAX_CHAIN) {
            throw new FormatException(path + ": backing chain deeper than " + MAX_CHAIN + " images (a loop?)");
        }
        ImageLock lock = OfflineSpace.claim(path, ImageLock.Use.READ);
        FileCowStore store;
        try {
            store = FileCowStore.openReadOnly(path);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
        OfflineSpace image;
        Qcow2Format.Image read;
        try {
            read = Qcow2Format.readImage(store);
            image = OfflineSpace.image(path, store, lock, read.view());
        } catch (IOException | FormatException | RuntimeException e) {
            try {
                store.close();
            } finally {
                lock.close();
            }
            throw e;
        }
        try {
            VolumeSource below = read.backing().isEmpty() ? null
                    : open(read.backing().get(), read.backingFormat(), depth + 1);
            return new SpaceVolume(image, below);
        } catch (IOException | FormatException | RuntimeException e) {
            image.close();
            throw e;
        }
    }
}
