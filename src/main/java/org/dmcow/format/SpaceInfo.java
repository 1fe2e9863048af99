/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.util.Optional;

/**
 * What {@code dmcowctl info} shows. Sizes in bytes, counts in chunks; {@code segments} is the
 * number of mapped {@code cow} segments a table needs for the committed mappings. {@code base}: the
 * base as the space names it (a qcow2 backing file), or empty where the format keeps only its size
 * and identity (native).
 */
public record SpaceInfo(String format, long chunkSize, long volumeSize, long cowSize, long usedChunks,
        long freeChunks, long mappings, long segments, Optional<String> base) {
}
