/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import java.nio.file.Path;

/** One configured volume: dmcow.volumes.NAME. */
public record VolumeConfig(String name, Path base, Path cow, String format, long chunkSize) {
    public int chunkSectors() {
        return (int) (chunkSize / 512);
    }
}
