/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.nio.file.Path;
import java.time.Instant;

/**
 * One volume as {@code dmcowctl status} shows it. {@code state}: starting, serving, degraded
 * (with {@code reason}), waiting (configured, but the kernel has not reported the volume),
 * stopping. Chunk counts are in chunks of the volume's chunk size. {@code base}, {@code cow} and
 * {@code format} are null for a volume whose config was refused.
 */
public record VolumeStatus(String name, String state, String reason, long chunksMapped, long chunksCommitted,
        long faultsPending, long cowUsedChunks, long cowFreeChunks, Instant lastCommit, long reloads,
        long segments, long chunkSize, Path base, Path cow, String format) {
}
