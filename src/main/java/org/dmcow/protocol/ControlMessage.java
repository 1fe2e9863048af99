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

    /**
     * Replay: an earlier daemon placed this chunk and its fill is still running; {@code grant} is the
     * grant whose slot it took, 0 for a MAP's.
     */
    record Granted(int volume, long chunk, long cowSector, int grant) implements ControlMessage {
        public Granted(int volume, long chunk, long cowSector) {
            this(volume, chunk, cowSector, 0);
        }
    }

    /**
     * The chunk is filled and its queued writes are done; {@code seq} is the fill sequence number,
     * {@code grant} the grant whose slot it took (0: it was MAPped).
     */
    record Filled(int volume, long seq, long chunk, long cowSector, int grant) implements ControlMessage {
        public Filled(int volume, long seq, long chunk, long cowSector) {
            this(volume, seq, chunk, cowSector, 0);
        }
    }

    /**
     * Chunks {@code firstChunk} .. {@code firstChunk + count - 1}, when first written, go to
     * {@code cowSector} onwards, filled as {@code fill} says. Sent as GRANT (daemon, {@code used}
     * empty), and by the kernel as GRANT_LIVE (replay) and REVOKED (the slots {@code used}; count 0:
     * the grant was used up), told apart by {@code kind}.
     */
    record Grant(Kind kind, int volume, long id, long firstChunk, long cowSector, int count, int fill,
            java.util.BitSet used) implements ControlMessage {
        /** What a grant message is. */
        public enum Kind {
            GRANT, GRANT_LIVE, REVOKED
        }
    }

    /** Ends grant {@code id}: the kernel answers REVOKED. */
    record Revoke(int volume, long id) implements ControlMessage {
    }

    /** The volume's free granted slots ran low: {@code freeSlots} are left. */
    record GrantLow(int volume, int freeSlots) implements ControlMessage {
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
