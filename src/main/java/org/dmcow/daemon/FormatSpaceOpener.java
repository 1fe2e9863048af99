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
    public OpenedSpace open(VolumeConfig volume, Path cowLoop) throws IOException, FormatException {
        CowFormat format = CowFormats.byName(volume.format());
        FileCowStore store = FileCowStore.open(volume.cow(), false,
                cowLoop == null ? null : size -> loops.refreshCapacity(cowLoop));
        FileBaseImage base = null;
        try {
            base = FileBaseImage.open(volume.base());
            CowSpace space = format.open(store, base);
            if (space.chunkSize() != volume.chunkSize()) {
                space.close();
                throw new FormatException(volume.cow() + ": the CoW space has chunk size " + space.chunkSize()
                        + ", the config says chunk-size = " + volume.chunkSize());
            }
            FileBaseImage opened = base;
            return new OpenedSpace(space, store, opened::close);
        } catch (IOException | FormatException | RuntimeException e) {
            store.close();
            if (base != null) {
                base.close();
            }
            throw e;
        }
    }
}
