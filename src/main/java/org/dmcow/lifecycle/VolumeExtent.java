/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

/**
 * A range of the volume, in bytes, whose chunks all read from one kind of place: {@code place} is
 * the byte offset in the CoW store of the first byte for {@link Kind#SPACE} (the chunks lie there
 * contiguously), and unused otherwise.
 */
public record VolumeExtent(long start, long length, Kind kind, long place) {
    /** Where the extent's bytes come from. */
    public enum Kind {
        /** Chunks the guest wrote: in the CoW space. */
        SPACE,
        /** Chunks that read as zeros whatever the base holds (qcow2 zero clusters). */
        ZERO,
        /** Chunks never written: read from the base. */
        BASE
    }

    public long end() {
        return start + length;
    }
}
