/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

/** One struct dm_cow_msg, decoded. Kernel-to-daemon and daemon-to-kernel messages alike. */
public sealed interface ControlMessage {
    /** The kernel's volume id; 0 for HELLO and REPLAY_DONE. */
    int volume();

    /** HELLO in either direction. */
    record Hello(int version, int msgSize, int maxCopies) implements ControlMessage {
        @Override
        public int volume() {
            return 0;
        }
    }

    /** A volume exists: its size, CoW size, chunk size, devices and ident (the dm-cow table's ident). */
    record Volume(int volume, long volumeSectors, long cowSectors, int chunkSectors, int baseDev, int cowDev,
            String ident) implements ControlMessage {
    }

    record VolumeGone(int volume, String ident) implements ControlMessage {
    }

    /** A write waits on an unmapped chunk; {@code seq} is the fault's sequence number. */
    record Fault(int volume, long seq, long chunk, int flags) implements ControlMessage {
        public boolean fullWrite() {
            return (flags & Protocol.FAULT_FULL_WRITE) != 0;
        }
    }

    /** Replay: an earlier daemon mapped this chunk and its fill is still running. */
    record Granted(int volume, long chunk, long cowSector) implements ControlMessage {
    }

    /** The chunk is filled and its queued writes are done; {@code seq} is the fill sequence number. */
    record Filled(int volume, long seq, long chunk, long cowSector) implements ControlMessage {
    }

    /**
     * A committed chunk of a discard_unmap segment was discarded whole: the kernel serves it as the
     * base until it is written again, and keeps it until FORGET.
     */
    record Discard(int volume, long chunk) implements ControlMessage {
    }

    /** A flush waits for every chunk filled up to {@code fillSeq} to be committed. */
    record Flush(int volume, long fillSeq) implements ControlMessage {
    }

    record ReplayDone() implements ControlMessage {
        @Override
        public int volume() {
            return 0;
        }
    }

    /** Answers a fault: place the chunk at {@code cowSector} and fill it so ({@link Protocol#FILL_COPY}...). */
    record Map(int volume, long seq, long chunk, long cowSector, int fill) implements ControlMessage {
    }

    /** Answers a fault with an error for its writes (positive errno). */
    record Fail(int volume, long seq, long chunk, int error) implements ControlMessage {
    }

    /** A filled chunk's mapping is durable (only volume and chunk are set). */
    record Committed(int volume, long chunk) implements ControlMessage {
    }

    /**
     * A committed chunk is now served by a mapped segment: the kernel may drop its remap; or a
     * discarded one is served by a cow segment: the kernel may drop its state.
     */
    record Forget(int volume, long chunk) implements ControlMessage {
    }
}
