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

/** Opens CoW spaces through the format plugins, on the files or devices the config names. */
public final class FormatSpaceOpener implements SpaceOpener {
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

    @Override
    public OpenedSpace open(VolumeConfig volume, Path cowLoop) throws IOException, FormatException {
        CowFormat format = CowFormats.byName(volume.format());
        FileCowStore store = FileCowStore.open(volume.cow(), false,
                cowLoop == null ? null : size -> loops.refreshCapacity(cowLoop));
        FileBaseImage base = null;
        CowSpace space = null;
        try {
            base = FileBaseImage.open(volume.base());
            space = format.open(store, base);
            if (space.chunkSize() != volume.chunkSize()) {
                throw new FormatException(volume.cow() + ": the CoW space has chunk size " + space.chunkSize()
                        + ", the config says chunk-size = " + volume.chunkSize());
            }
            // The device is created only once the space is open: it never reads these from the base.
            ZeroChunks.commit(space, store);
            FileBaseImage opened = base;
            return new OpenedSpace(space, store, opened::close);
        } catch (IOException | FormatException | RuntimeException e) {
            if (space != null) {
                space.close();
            }
            store.close();
            if (base != null) {
                base.close();
            }
            throw e;
        }
    }
}
