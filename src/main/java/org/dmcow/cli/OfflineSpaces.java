/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.dmcow.format.CowFormat;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.host.ImageLock;
import org.dmcow.lifecycle.OfflineSpace;

/** Opening a space for the offline commands, with errors that name the file at fault. */
final class OfflineSpaces {
    private OfflineSpaces() {
    }

    /**
     * The space {@code cow} over {@code base} (null: the base the space records), refused when
     * served or over another base; locked for {@code use} until closed.
     */
    static OfflineSpace open(Path cow, Path base, ImageLock.Use use) throws Failure, FormatException {
        SpaceFiles.requireReadable(cow);
        if (base != null) {
            SpaceFiles.requireReadable(base);
        }
        ImageLock lock = SpaceFiles.on(cow, () -> OfflineSpace.claim(cow, use));
        FileCowStore store = null;
        FileBaseImage baseImage = null;
        boolean handedOver = false;
        try {
            FileCowStore s = SpaceFiles.openReadOnly(cow);
            store = s;
            CowFormat format = SpaceFiles.on(cow, () -> SpaceFiles.detect(s));
            Path basePath = base != null ? base : SpaceFiles.on(cow, () -> OfflineSpace.recordedBase(cow, format, s));
            FileBaseImage b = SpaceFiles.base(basePath);
            baseImage = b;
            handedOver = true; // OfflineSpace.open owns them now, and closes them when it refuses
            return SpaceFiles.on(cow, () -> OfflineSpace.open(cow, format, s, b, lock));
        } finally {
            if (!handedOver) {
                closeQuietly(store, baseImage, lock);
            }
        }
    }

    private static void closeQuietly(FileCowStore store, FileBaseImage base, ImageLock lock) {
        try {
            if (store != null) {
                store.close();
            }
            if (base != null) {
                base.close();
            }
        } catch (IOException e) {
            // closing a read-only file after a refusal: the refusal is what the operator needs
        } finally {
            lock.close();
        }
    }
}
