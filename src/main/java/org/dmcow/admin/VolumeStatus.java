/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.nio.file.Path;
import java.time.Instant;

/**
 * One volume as {@code dmcowctl status} shows it; {@code reason} says why it is degraded or full,
 * or that its CoW space is past a warning level of use. Chunk
 * counts are in chunks of the volume's chunk size. {@code base}, {@code cow} and {@code format}
 * are null for a volume whose config was refused. {@code cowGrows}: the format grows its file as it
 * places (qcow2), so its free chunks are only the room inside the file, no measure of use.
 */
public record VolumeStatus(String name, State state, String reason, long chunksMapped, long chunksCommitted,
        long faultsPending, long cowUsedChunks, long cowFreeChunks, Instant lastCommit, long reloads,
        long segments, long chunkSize, Path base, Path cow, String format, boolean cowGrows) {
    /** What {@code dmcowctl status} says of a volume; {@link #word} is the JSON and table spelling. */
    public enum State {
        /** Devices, CoW space or dm device not set up yet. */
        STARTING,
        /** Configured and set up, but the kernel has not reported the volume. */
        WAITING,
        SERVING,
        /** New chunks wait; the reason says why. */
        DEGRADED,
        /** The CoW space has no place for a new chunk: new chunks wait, or fail (no-space policy). */
        FULL,
        /** Committing for a shutdown or a removal. */
        STOPPING;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
