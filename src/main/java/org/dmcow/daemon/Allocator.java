/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.Runs;
import org.dmcow.format.SpaceFullException;

/**
 * Owns one volume's CoW space: placements, adoptions and group commits, on a blocking dispatcher.
 * Every {@link Reply} carries the allocator's epoch, so a restarted volume ignores what an
 * allocator it no longer owns said. A crash restarts it from the durable space, which says
 * {@link Ready} again: the owner then re-adopts what it holds.
 */
public final class Allocator extends AbstractBehavior<Allocator.Command> {
    public interface Command {
    }

    /** Place chunks, answered in one {@link Placed}; idempotent while the reservation lasts. */
    public record Place(long[] chunks) implements Command {
    }

    /** Record a place the kernel already holds. */
    public record Adopt(long chunk, long place) implements Command {
    }

    public record Release(long chunk) implements Command {
    }

    /**
     * Commit mappings, and unmaps ({@link CowSpace#UNMAPPED}); {@code dataDurable}: the kernel
     * flushed the CoW device after these fills.
     */
    public record Commit(List<CowSpace.Mapping> mappings, boolean dataDurable) implements Command {
    }

    /**
     * The volume has re-adopted every place it holds: placing may start. Until then placements
     * wait (stashed), or a restarted allocator could hand out a place the kernel already holds.
     */
    public enum AdoptionDone implements Command {
        INSTANCE
    }

    /**
     * Take in the room the store gained (grown by other means), after growing a file to
     * {@code size} bytes or by {@code by} bytes (both 0: as it is), to at most {@code limit} bytes
     * ({@link #WHOLE_VOLUME}: the size that holds every chunk of the volume); answered with
     * {@link Grown} or {@link GrowFailed}.
     */
    public record Grow(long size, long by, long limit) implements Command {
        public static final long WHOLE_VOLUME = 0;
        public static final long NO_LIMIT = Long.MAX_VALUE;
    }

    /** Reply with the committed mappings as runs, for a table reload. */
    public enum TableRuns implements Command {
        INSTANCE
    }

    /**
     * A table reload that began after {@code places} were unmapped (they were in its
     * {@link RunsReady}) has completed: nothing writes there any more, so they may be freed.
     * Answered with {@link Freed}.
     */
    public record FreePlaces(List<Long> places) implements Command {
    }

    /**
     * The volume's device was just created, so no kernel volume holds a place this allocator did
     * not hand out: free what a crash left counted and never committed ({@link CowSpace#reclaimLeaks}).
     */
    public enum ReclaimLeaks implements Command {
        INSTANCE
    }

    /**
     * Answered with {@link Synced} once every command sent before it is done: a stopping volume
     * knows its releases reached the space before it closes (qcow2 frees released clusters then).
     */
    public enum Sync implements Command {
        INSTANCE
    }

    /** What the allocator tells its owner; {@code epoch}: the allocator's, given at create. */
    public sealed interface Reply {
        long epoch();
    }

    /**
     * The space is open (again, after a crash): adopt what the kernel holds, then AdoptionDone.
     * {@code unmaps}: its commits take unmaps, so the volume's discards give chunks back.
     */
    public record Ready(long epoch, CowSpace.SpaceUsage usage, boolean growsItself, boolean unmaps)
            implements Reply {
    }

    /** The space could not be opened; the allocator does nothing more. */
    public record OpenFailed(long epoch, String reason) implements Reply {
    }

    /** The places of {@code chunks}, index by index. */
    public record Placed(long epoch, long[] chunks, CowSpace.Placement[] placements) implements Reply {
    }

    /** Why a chunk got no place. */
    public enum PlaceFailure {
        /** The space has the chunk committed already: placing it again would overwrite its data. */
        ALREADY_COMMITTED,
        SPACE_FULL,
        /** The space could not be read or written. */
        IO
    }

    public record PlaceFailed(long epoch, long chunk, PlaceFailure failure, String reason) implements Reply {
    }

    /** The kernel holds {@code chunk} at a place the space cannot record. */
    public record AdoptFailed(long epoch, long chunk, String reason) implements Reply {
    }

    public record Committed(long epoch, List<CowSpace.Mapping> mappings, CowSpace.SpaceUsage usage)
            implements Reply {
    }

    /** Nothing of {@code mappings} is durable beyond what was before. */
    public record CommitFailed(long epoch, List<CowSpace.Mapping> mappings, String reason) implements Reply {
    }

    /** {@code unmappedPlaces}: places unmapped durably before these runs were read, still in use. */
    public record RunsReady(long epoch, List<Runs.Run> runs, List<Long> unmappedPlaces) implements Reply {
    }

    /** Places were freed; {@code error}: why some could not be (they are freed after a later reload), or null. */
    public record Freed(long epoch, CowSpace.SpaceUsage usage, String error) implements Reply {
    }

    /** The store is {@code bytes} long now and the space uses all of it. */
    /** The answer to {@link Sync}. */
    public record Synced(long epoch) implements Reply {
    }

    public record Grown(long epoch, long bytesBefore, long bytes, CowSpace.SpaceUsage usage) implements Reply {
    }

    public record GrowFailed(long epoch, String reason) implements Reply {
    }

    public static final String DISPATCHER = "dmcow-allocator-dispatcher";

    private final long epoch;
    private final ActorRef<Reply> owner;
    private final SpaceOpener.OpenedSpace opened;
    private final CowSpace space;
    /** Reservations not committed yet: a repeated Place gets the same answer. */
    private final Map<Long, CowSpace.Placement> reserved = new HashMap<>();

    public static Behavior<Command> create(long epoch, VolumeConfig config, Path cowLoop, SpaceOpener opener,
            ActorRef<Reply> owner) {
        return Behaviors.<Command>supervise(Behaviors.setup(ctx -> {
            SpaceOpener.OpenedSpace opened;
            try {
                opened = opener.open(config, cowLoop);
            } catch (IOException | FormatException e) {
                owner.tell(new OpenFailed(epoch, e.getMessage()));
                return Behaviors.ignore();
            }
            owner.tell(new Ready(epoch, opened.space().usage(), opened.space().growsItself(),
                    opened.space().unmaps()));
            Allocator allocator = new Allocator(ctx, epoch, owner, opened);
            return Behaviors.<Command>withStash(Tuning.ALLOCATOR_STASH, stash -> Behaviors.receive(Command.class)
                    .onMessage(Adopt.class, allocator::onAdopt)
                    .onMessage(AdoptionDone.class, m -> stash.unstashAll(allocator))
                    .onSignal(PostStop.class, x -> allocator.close())
                    .onSignal(PreRestart.class, x -> allocator.close())
                    .onAnyMessage(m -> {
                        stash.stash(m);
                        return Behaviors.same();
                    })
                    .build());
        })).onFailure(RuntimeException.class, SupervisorStrategy.restart());
    }

    private Allocator(ActorContext<Command> ctx, long epoch, ActorRef<Reply> owner,
            SpaceOpener.OpenedSpace opened) {
        super(ctx);
        this.epoch = epoch;
        this.owner = owner;
        this.opened = opened;
        this.space = opened.space();
    }

    static List<Runs.Run> runs(CowSpace space) {
        List<Runs.Run> out = new ArrayList<>();
        Runs runs = new Runs(space.chunkSize(), out::add);
        space.forEachMapping(runs);
        runs.finish();
        return out;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Place.class, this::onPlace)
                .onMessage(Adopt.class, this::onAdopt)
                .onMessage(Release.class, m -> {
                    if (reserved.remove(m.chunk()) != null) {
                        space.release(m.chunk());
                    }
                    return this;
                })
                .onMessage(Commit.class, this::onCommit)
                .onMessage(Grow.class, this::onGrow)
                .onMessage(TableRuns.class, m -> {
                    owner.tell(new RunsReady(epoch, runs(space), space.unmappedPlaces()));
                    return this;
                })
                .onMessage(FreePlaces.class, this::onFreePlaces)
                .onMessage(ReclaimLeaks.class, m -> reclaimLeaks())
                .onMessage(Sync.class, m -> {
                    owner.tell(new Synced(epoch));
                    return this;
                })
                .onSignal(PostStop.class, s -> close())
                .onSignal(PreRestart.class, s -> close())
                .build();
    }

    private Behavior<Command> close() {
        try {
            opened.close();
        } catch (IOException e) {
            getContext().getLog().warn("closing the CoW space: {}", e.getMessage());
        }
        return this;
    }

    private Behavior<Command> onPlace(Place m) {
        long hostRoom;
        try {
            hostRoom = hostRoom(); // once a batch: a stat and a statfs per first write would be on its path
        } catch (IOException e) {
            for (long chunk : m.chunks()) {
                owner.tell(new PlaceFailed(epoch, chunk, PlaceFailure.IO, "placement failed: " + e.getMessage()));
            }
            return this;
        }
        long[] chunks = new long[m.chunks().length];
        CowSpace.Placement[] placements = new CowSpace.Placement[chunks.length];
        int n = 0;
        for (long chunk : m.chunks()) {
            CowSpace.Placement p = place(chunk, hostRoom);
            if (p != null) {
                chunks[n] = chunk;
                placements[n++] = p;
            }
        }
        if (n > 0) {
            owner.tell(new Placed(epoch, Arrays.copyOf(chunks, n),
                    Arrays.copyOf(placements, n)));
        }
        return this;
    }

    private Behavior<Command> onGrow(Grow m) {
        CowStore store = opened.store();
        try {
            long before = store.size();
            long limit = m.limit() == Grow.WHOLE_VOLUME ? wholeVolumeSize(before) : m.limit();
            long size = Math.min(limit, m.size() > 0 ? m.size() : before + m.by());
            if (size < before && m.limit() == Grow.NO_LIMIT) {
                owner.tell(new GrowFailed(epoch, store.path() + " has " + before + " bytes: a CoW space cannot "
                        + "shrink to " + size));
                return this;
            }
            store.grow(Math.max(before, size));
            space.grow();
            owner.tell(new Grown(epoch, before, store.size(), space.usage()));
        } catch (IOException | FormatException e) {
            owner.tell(new GrowFailed(epoch, e.getMessage()));
        }
        return this;
    }

    /** The store's size with room for every chunk of the volume, beside what it holds besides chunks. */
    private long wholeVolumeSize(long storeSize) {
        CowSpace.SpaceUsage u = space.usage();
        long chunksBeyondData = space.volumeChunks() - (u.usedChunks() + u.freeChunks());
        return storeSize + chunksBeyondData * space.chunkSize();
    }

    /**
     * Bytes a sparse or growing file's filesystem can still take (new chunks of a preallocated
     * native file need none: no limit).
     */
    private long hostRoom() throws IOException {
        CowStore store = opened.store();
        return !space.growsItself() && store.preallocated() ? Long.MAX_VALUE : store.room();
    }

    /**
     * The host filesystem must hold every reserved chunk's first write and this one's, and room for
     * the metadata, or a fill fails with EIO: no room there is a full space, which the no-space
     * policy handles.
     */
    private String noRoomOnHost(long hostRoom) {
        long needed = (reserved.size() + 1 + Tuning.METADATA_HEADROOM_CHUNKS) * space.chunkSize();
        return hostRoom >= needed ? null : "the filesystem holding " + opened.store().path() + " has " + hostRoom
                + " bytes free; the chunks placed and not yet written, and the metadata, need " + needed;
    }

    /**
     * The chunk's place, or null when the owner was told why there is none; {@code hostRoom}: what
     * {@link #hostRoom} said for this batch.
     */
    private CowSpace.Placement place(long chunk, long hostRoom) {
        CowSpace.Placement p = reserved.get(chunk);
        if (p != null) {
            return p;
        }
        long committed = space.committedPlace(chunk);
        if (committed >= 0) {
            owner.tell(new PlaceFailed(epoch, chunk, PlaceFailure.ALREADY_COMMITTED, "chunk " + chunk
                    + " is already committed at " + committed + " but the kernel faulted it"));
            return null;
        }
        try {
            String noRoom = noRoomOnHost(hostRoom);
            if (noRoom != null) {
                throw new SpaceFullException(noRoom);
            }
            p = space.place(chunk);
        } catch (SpaceFullException e) {
            owner.tell(new PlaceFailed(epoch, chunk, PlaceFailure.SPACE_FULL, "CoW space full: " + e.getMessage()));
            return null;
        } catch (IOException | FormatException e) {
            owner.tell(new PlaceFailed(epoch, chunk, PlaceFailure.IO, "placement failed: " + e.getMessage()));
            return null;
        }
        reserved.put(chunk, p);
        return p;
    }

    private Behavior<Command> onAdopt(Adopt m) {
        CowSpace.Placement held = reserved.get(m.chunk());
        if (held != null && held.place() == m.place() || space.committedPlace(m.chunk()) == m.place()) {
            return Behaviors.same();
        }
        try {
            space.adopt(m.chunk(), m.place());
            reserved.put(m.chunk(), new CowSpace.Placement(m.place(), CowSpace.Fill.COPY));
        } catch (FormatException e) {
            owner.tell(new AdoptFailed(epoch, m.chunk(), e.getMessage()));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onFreePlaces(FreePlaces m) {
        String error = null;
        try {
            space.freePlaces(m.places());
        } catch (IOException | FormatException e) {
            error = e.getMessage();
        }
        owner.tell(new Freed(epoch, space.usage(), error));
        return this;
    }

    private Behavior<Command> reclaimLeaks() {
        try {
            long n = space.reclaimLeaks();
            if (n > 0) {
                getContext().getLog().info("{}: freed {} places counted but never committed (left by a crash)",
                        opened.store().path(), n);
            }
        } catch (IOException e) {
            getContext().getLog().warn("{}: places left by a crash stay counted: {}", opened.store().path(),
                    e.getMessage());
        }
        return this;
    }

    private Behavior<Command> onCommit(Commit m) {
        // After a restart a commit may be asked again: skip what is durable already.
        List<CowSpace.Mapping> todo = new ArrayList<>(m.mappings().size());
        for (CowSpace.Mapping x : m.mappings()) {
            if (space.committedPlace(x.volumeChunk()) != x.place()) {
                todo.add(x);
            }
        }
        try {
            if (!todo.isEmpty()) {
                if (!m.dataDurable()) {
                    opened.store().flush();
                }
                space.commit(todo);
            }
        } catch (IOException | FormatException e) {
            owner.tell(new CommitFailed(epoch, m.mappings(), e.getMessage()));
            return this;
        }
        for (CowSpace.Mapping x : m.mappings()) {
            reserved.remove(x.volumeChunk());
        }
        owner.tell(new Committed(epoch, m.mappings(), space.usage()));
        return this;
    }
}
