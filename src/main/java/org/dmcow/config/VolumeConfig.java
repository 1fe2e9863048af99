/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import java.nio.file.Path;

/** One configured volume: dmcow.volumes.NAME. */
public record VolumeConfig(String name, Path base, Path cow, String format, long chunkSize, SpacePolicy space) {
    public int chunkSectors() {
        return (int) (chunkSize / 512);
    }

    /** This volume with the chunk size its existing CoW space has. */
    public VolumeConfig withChunkSize(long size) {
        return new VolumeConfig(name, base, cow, format, size, space);
    }
}
