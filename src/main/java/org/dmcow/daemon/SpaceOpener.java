/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/** Opens a volume's CoW space from its durable state; the seam where tests put an in-memory space. */
@FunctionalInterface
public interface SpaceOpener {
    /**
     * An open space, the store under it (flushed before each commit: data before metadata) and
     * what else serving it holds: the base, the image locks.
     */
    record OpenedSpace(CowSpace space, CowStore store, Closeable held) implements Closeable {
        @Override
        public void close() throws IOException {
            try (Closeable h = held; CowStore st = store; CowSpace sp = space) {
                // closes all three, the space first
            }
        }
    }

    /**
     * Opens the space of {@code volume}; {@code cowLoop} is the loop device over a file-backed CoW
     * space (told when the file grows) or null.
     */
    OpenedSpace open(VolumeConfig volume, Path cowLoop) throws IOException, FormatException;

    /**
     * The chunk size of the volume's existing CoW space (a qcow2 image's cluster size), which the
     * device is built with; read without opening the space for serving. This default: the config's.
     */
    default long chunkSize(VolumeConfig volume) throws IOException, FormatException {
        return volume.chunkSize();
    }
}
