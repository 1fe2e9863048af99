/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dmcow.config.SpacePolicy;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.CowSpace;
import org.dmcow.format.Runs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The allocator alone: a probe stands in for its volume, a memory space for the CoW space. */
class AllocatorTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final long CHUNK = 64 << 10;
    private static final VolumeConfig CONFIG = new VolumeConfig("vm1", Path.of("/base"), Path.of("/cow"), "native",
            CHUNK, SpacePolicy.DEFAULTS);
    private static final long EPOCH = 7;

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private record Started(ActorRef<Allocator.Command> allocator, TestProbe<Allocator.Reply> owner) {
    }

    /** An allocator over {@code space}, told that adoption is done once it said Ready. */
    private static Started start(MemoryCowSpace.Durable space) {
        TestProbe<Allocator.Reply> owner = KIT.createTestProbe();
        ActorRef<Allocator.Command> a = KIT.spawn(Allocator.create(EPOCH, CONFIG, null, (c, loop) -> space.open(),
                owner.getRef()));
        Allocator.Ready ready = owner.expectMessageClass(Allocator.Ready.class);
        assertEquals(EPOCH, ready.epoch());
        return new Started(a, owner);
    }

    /** Ends the adoption and places {@code chunk}; its place. */
    private static long placeOne(Started s, long chunk) {
        s.allocator().tell(Allocator.AdoptionDone.INSTANCE);
        s.allocator().tell(new Allocator.Place(new long[] {chunk}));
        return s.owner().expectMessageClass(Allocator.Placed.class).placements()[0].place();
    }

    private static MemoryCowSpace.Durable space(long capacityChunks) {
        return new MemoryCowSpace.Durable(CHUNK, 64 * CHUNK, capacityChunks);
    }

    @Test
    void placesWaitForAdoptionAndNeverHandOutAnAdoptedPlace() {
        Started s = start(space(4));
        s.allocator().tell(new Allocator.Adopt(9, 0));
        s.allocator().tell(new Allocator.Place(new long[] {1, 2}));
        s.owner().expectNoMessage(Duration.ofMillis(200));
        s.allocator().tell(Allocator.AdoptionDone.INSTANCE);
        Allocator.Placed placed = s.owner().expectMessageClass(Allocator.Placed.class);
        assertEquals(EPOCH, placed.epoch());
        assertArrayEquals(new long[] {1, 2}, placed.chunks());
        assertNotEquals(0, placed.placements()[0].place());
        assertNotEquals(0, placed.placements()[1].place());
        assertNotEquals(placed.placements()[0].place(), placed.placements()[1].place());
        // asked again (a restarted volume): the same answer, not a second place
        s.allocator().tell(new Allocator.Place(new long[] {2}));
        assertEquals(placed.placements()[1], s.owner().expectMessageClass(Allocator.Placed.class).placements()[0]);
    }

    @Test
    void aFullSpaceSaysSpaceFullForTheChunksWithoutRoom() {
        Started s = start(space(1));
        s.allocator().tell(Allocator.AdoptionDone.INSTANCE);
        s.allocator().tell(new Allocator.Place(new long[] {1, 2}));
        Allocator.PlaceFailed failed = s.owner().expectMessageClass(Allocator.PlaceFailed.class);
        assertEquals(2, failed.chunk());
        assertEquals(Allocator.PlaceFailure.SPACE_FULL, failed.failure());
        assertArrayEquals(new long[] {1}, s.owner().expectMessageClass(Allocator.Placed.class).chunks());
    }

    @Test
    void aCommittedChunkFaultedAgainIsRefusedAsAlreadyCommitted() {
        MemoryCowSpace.Durable space = space(4);
        Started s = start(space);
        long place = placeOne(s, 3);
        List<CowSpace.Mapping> group = List.of(new CowSpace.Mapping(3, place));
        s.allocator().tell(new Allocator.Commit(group, false));
        Allocator.Committed done = s.owner().expectMessageClass(Allocator.Committed.class);
        assertEquals(group, done.mappings());
        assertEquals(1, done.usage().mappings());
        assertEquals(Map.of(3L, place), space.committedCopy());
        assertEquals(1, space.flushes.get(), "data flushed before the metadata that points at it");
        s.allocator().tell(new Allocator.Place(new long[] {3}));
        Allocator.PlaceFailed failed = s.owner().expectMessageClass(Allocator.PlaceFailed.class);
        assertEquals(Allocator.PlaceFailure.ALREADY_COMMITTED, failed.failure());
        s.allocator().tell(Allocator.TableRuns.INSTANCE);
        assertEquals(List.of(new Runs.Run(3, 1, place)), s.owner().expectMessageClass(Allocator.RunsReady.class).runs());
    }

    @Test
    void aFailedCommitLeavesNothingDurableAndCanBeAskedAgain() {
        MemoryCowSpace.Durable space = space(4);
        Started s = start(space);
        long place = placeOne(s, 5);
        List<CowSpace.Mapping> group = List.of(new CowSpace.Mapping(5, place));
        space.failCommits = "metadata write: EIO";
        s.allocator().tell(new Allocator.Commit(group, true));
        Allocator.CommitFailed failed = s.owner().expectMessageClass(Allocator.CommitFailed.class);
        assertEquals("metadata write: EIO", failed.reason());
        assertEquals(group, failed.mappings());
        assertTrue(space.committedCopy().isEmpty());
        space.failCommits = null;
        s.allocator().tell(new Allocator.Commit(group, true));
        s.owner().expectMessageClass(Allocator.Committed.class);
        assertEquals(Map.of(5L, place), space.committedCopy());
        assertEquals(0, space.flushes.get(), "the kernel flushed already: no flush of its own");
    }

    @Test
    void aPlaceTheSpaceCannotRecordIsAnAdoptFailure() {
        Started s = start(space(2));
        s.allocator().tell(new Allocator.Adopt(1, 0));
        s.allocator().tell(new Allocator.Adopt(2, 0));
        Allocator.AdoptFailed failed = s.owner().expectMessageClass(Allocator.AdoptFailed.class);
        assertEquals(2, failed.chunk());
        assertTrue(failed.reason().contains("cannot adopt place 0"), failed.reason());
    }

    @Test
    void aSpaceThatCannotBeOpenedSaysWhyAndNothingElse() {
        MemoryCowSpace.Durable space = space(2);
        space.failOpen = "/cow: bad header";
        TestProbe<Allocator.Reply> owner = KIT.createTestProbe();
        ActorRef<Allocator.Command> a = KIT.spawn(Allocator.create(EPOCH, CONFIG, null, (c, loop) -> space.open(),
                owner.getRef()));
        assertEquals(new Allocator.OpenFailed(EPOCH, "/cow: bad header"),
                owner.expectMessageClass(Allocator.OpenFailed.class));
        a.tell(Allocator.AdoptionDone.INSTANCE);
        a.tell(new Allocator.Place(new long[] {1}));
        owner.expectNoMessage(Duration.ofMillis(200));
    }
}
