/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.dmcow.daemon.ChunkTable.Chunk;
import org.dmcow.daemon.ChunkTable.State;
import org.junit.jupiter.api.Test;

class ChunkTableTest {
    private final ChunkTable table = new ChunkTable();

    private Chunk add(long chunk, State state) {
        Chunk c = new Chunk(chunk, state);
        table.add(c);
        return c;
    }

    @Test
    void countsFollowEveryChangeOfState() {
        Chunk a = add(1, State.WAITING);
        add(2, State.WAITING);
        table.set(a, State.PLACING);
        assertEquals(1, table.count(State.WAITING));
        assertEquals(1, table.count(State.PLACING));
        table.remove(2);
        assertEquals(0, table.count(State.WAITING));
        // replacing a chunk counts the old one out
        add(1, State.MAPPED);
        assertEquals(0, table.count(State.PLACING));
        assertEquals(1, table.count(State.MAPPED));
    }

    @Test
    void aRemovedChunkChangesNoCount() {
        Chunk a = add(1, State.MAPPED);
        table.remove(1);
        table.set(a, State.FILLED);
        assertEquals(State.FILLED, a.state);
        assertEquals(0, table.count(State.FILLED));
        assertEquals(0, table.count(State.MAPPED));
    }

    @Test
    void filledChunksAreQueuedOnceInOrder() {
        Chunk a = add(1, State.MAPPED);
        Chunk b = add(2, State.MAPPED);
        table.set(b, State.FILLED);
        table.set(a, State.FILLED);
        table.set(a, State.FILLED);
        assertEquals(2, table.toCommitQueued());
        assertSame(b, table.pollToCommit());
        assertSame(a, table.pollToCommit());
        assertNull(table.pollToCommit());
    }

    @Test
    void discardedChunksAreQueuedAheadOfFilledOnes() {
        Chunk a = add(1, State.MAPPED);
        Chunk b = add(2, State.COMMITTED);
        table.set(a, State.FILLED);
        table.set(b, State.DISCARDED);
        Chunk c = add(3, State.DISCARDED); // a forgotten chunk discarded: added in that state
        assertEquals(3, table.toCommitQueued());
        assertSame(b, table.pollToCommit());
        assertSame(c, table.pollToCommit());
        assertSame(a, table.pollToCommit());
        assertNull(table.pollToCommit());
    }

    @Test
    void ownWorkLeavesOutWhatWaitsForTheKernel() {
        add(1, State.WAITING);
        add(2, State.MAPPED);
        add(3, State.FILLED);
        add(4, State.COMMITTED);
        add(5, State.DURABLE);
        add(6, State.UNMAPPED);
        add(7, State.DISCARDED);
        assertEquals(4, table.ownWork());
    }
}
