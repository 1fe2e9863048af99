/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.util.BitSet;
import java.util.LinkedHashSet;
import java.util.Set;

/** A space's metadata as read back at open: the mapping table and where the log stands. */
final class SpaceState {
    Superblock superblock;
    /** Per volume chunk: data chunk + 1, or 0 when unmapped; null when read without it. */
    int[] table;
    /** Read without the table ({@link SpaceReader#readWithoutTable}): the journal's chunks and their entries. */
    JournalChunks journalChunks;
    FreeSpace free;
    long mappings;
    /** The current checkpoint: its number (the journal's epoch), slot, and the last commit it holds. */
    long checkpointSeq;
    int checkpointSlot;
    long lastCommit;
    /** The number of mappings the current checkpoint's table holds. */
    long checkpointMappings;
    /** Larger than any checkpoint number found anywhere, so a new checkpoint never reuses one. */
    long nextCheckpointSeq;
    /** Per table page: set when copy 1 (not copy 0) holds the current contents. */
    BitSet copyOneCurrent = new BitSet();
    /** Table pages changed since the current checkpoint (by the journal, or left stale by a crash). */
    BitSet dirtyPages = new BitSet();
    /**
     * Data chunks the journal's unmap entries took from their chunks and no later entry reused:
     * kept in use until a table without them is live (a write may still be on its way to one).
     */
    Set<Long> unmapped = new LinkedHashSet<>();
    /** Bytes of the journal holding this epoch's records. */
    long journalUsed;
}
