/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.file.Path;
import org.dmcow.config.VolumeConfig;
import org.dmcow.dm.LoopDevices;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.host.ImageLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Opens CoW spaces through the format plugins, on the files or devices the config names. */
public final class FormatSpaceOpener implements SpaceOpener {
    private static final Logger LOG = LoggerFactory.getLogger(FormatSpaceOpener.class);
    private final LoopDevices loops;

    public FormatSpaceOpener(LoopDevices loops) {
        this.loops = loops;
    }

    @Override
    public long chunkSize(VolumeConfig volume) throws IOException, FormatException {
        CowFormat format = CowFormats.byName(volume.format());
        try (FileCowStore store = FileCowStore.openReadOnly(volume.cow())) {
            return format.chunkSize(store);
        }
    }

    /**
     * Opens the space under QEMU's image locks, held while it is served: the CoW space as a
     * written image, the base as a backing file, so QEMU, qemu-img and a second volume or daemon
     * see it is in use.
     */
    @Override
    public OpenedSpace open(VolumeConfig volume, Path cowLoop) throws IOException, FormatException {
        CowFormat format = CowFormats.byName(volume.format());
        ImageLock cowLock = lock(volume, volume.cow(), ImageLock.Use.WRITE);
        ImageLock baseLock = null;
        FileCowStore store = null;
        FileBaseImage base = null;
        CowSpace space = null;
        try {
            baseLock = lock(volume, volume.base(), ImageLock.Use.READ);
            store = FileCowStore.open(volume.cow(), false,
                    cowLoop == null ? null : size -> loops.refreshCapacity(cowLoop));
            if (cowLoop != null) {
                // the file may have grown while no daemon served it: the kernel checks MAPs against this
                loops.refreshCapacity(cowLoop);
            }
            base = FileBaseImage.open(volume.base());
            space = format.open(store, base);
            if (space.chunkSize() != volume.chunkSize()) {
                throw new FormatException(volume.cow() + ": the CoW space has chunk size " + space.chunkSize()
                        + ", the config says chunk-size = " + volume.chunkSize());
            }
            // The device is created only once the space is open: it never reads these from the base.
            ZeroChunks.commit(space, store);
            FileBaseImage openedBase = base;
            ImageLock heldBase = baseLock;
            return new OpenedSpace(space, store, () -> {
                try (cowLock; heldBase; openedBase) {
                    // the base, then the locks
                }
            });
        } catch (IOException | FormatException | RuntimeException e) {
            try (cowLock; ImageLock b = baseLock; FileCowStore st = store; FileBaseImage bi = base; CowSpace sp = space) {
                throw e; // closes what was opened, the space first
            }
        }
    }

    private static ImageLock lock(VolumeConfig volume, Path file, ImageLock.Use use)
            throws IOException, FormatException {
        try {
            ImageLock lock = ImageLock.take(file, use);
            if (lock.unsupported() != null) {
                LOG.warn("volume {}: {}: QEMU and other daemons will not see it is in use", volume.name(),
                        lock.unsupported());
            }
            return lock;
        } catch (ImageLock.ImageLockedException e) {
            throw new FormatException(e.getMessage());
        }
    }
}
