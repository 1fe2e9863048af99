/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * What a volume's {@link GrantPolicy} knows of its grants: kept in the {@link VolumeLedger}, so a
 * restarted volume actor still knows which grants the kernel holds and which ids it used. Not
 * thread-safe.
 */
final class LiveGrants {
    /** A grant the kernel holds. */
    static final class Live {
        final long first;
        final int count;
        /** Its chunks still GRANTED in the chunk table. */
        int unwritten;
        boolean revoking;

        Live(long first, int count) {
            this.first = first;
            this.count = count;
        }
    }

    /** By grant id. */
    final Map<Long, Live> byId = new HashMap<>();
    /** Windows whose chunks were placed for grants, by window number. */
    final BitSet offered = new BitSet();
    long nextId = 1;
    long lastGrantedWrite = -1;

    /** The kernel's volume went, and its grants with it. */
    void clear() {
        byId.clear();
        offered.clear();
        lastGrantedWrite = -1;
    }
}
