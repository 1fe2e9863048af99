/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Signal;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.VolumeConfig;
import org.dmcow.daemon.VolumeLedger.Chunk;
import org.dmcow.daemon.VolumeLedger.State;
import org.dmcow.dm.DeviceMapper;
import org.dmcow.dm.LoopDevices;
import org.dmcow.dm.Tables;
import org.dmcow.format.CowSpace;
import org.dmcow.format.Runs;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.Protocol;

/**
 * One volume: the fault, map, fill, commit state machine of its chunks. Children: its
 * {@link Allocator} and {@link TableReloader}. A failure here degrades this volume alone: new
 * chunks wait, the reason is in the status and the log, every other volume keeps serving.
 */
public final class Volume extends AbstractBehavior<Volume.Command> {
    public interface Command {
    }

    /** Kernel messages for this volume, in order; {@code accepted} is told when the volume took them (backpressure). */
    public record FromKernel(List<ControlMessage> messages, Acceptance accepted) implements Command {
    }

    public record GetStatus(ActorRef<VolumeStatus> replyTo) implements Command {
    }

    /** The config was re-read (SIGHUP): a degraded volume tries again what failed. */
    public enum Retry implements Command {
        INSTANCE
    }

    /** Stop taking faults, commit everything, reload once more; {@code remove}: then remove the device. */
    public record Shutdown(boolean remove, ActorRef<ShutdownResult> replyTo) implements Command {
    }

    /** {@code refused}: why the device was not removed (it is open), or null. */
    public record ShutdownResult(String volume, String refused) {
    }

    private record FromAllocator(Allocator.Reply reply) implements Command {
    }

    private record FromReloader(TableReloader.Reply reply) implements Command {
    }

    private enum Tick implements Command {
        INSTANCE
    }

    private enum ReloadDue implements Command {
        INSTANCE
    }

    /** The daemon-wide settings a volume uses. */
    public record Settings(Duration commitInterval, int maxInFlight, int reloadMaxMappings, Duration reloadMaxDelay) {
    }

    /** The outside world of a volume: where its replies go and how its devices and space are reached. */
    public record Environment(KernelReplies replies, DeviceMapper dm, LoopDevices loops, SpaceOpener opener) {
    }

    private final VolumeConfig config;
    private final Settings settings;
    private final Environment env;
    private final VolumeLedger ledger;
    private final TimerScheduler<Command> timers;
    private final ActorRef<TableReloader.Command> reloader;
    private final ActorRef<Allocator.Reply> allocatorReplies;
    private ActorRef<Allocator.Command> allocator;
    /** The errno a refused fault gets: the kernel fails the writes waiting on it. */
    private static final int EIO = 5;
    private Shutdown shutdown;
    /** Chunks set PLACING while handling a message: asked for in one Place after it (see createReceive). */
    private long[] toPlace = new long[64];
    private int toPlaceCount;
    /** A removal asked for, while the device is checked for users. */
    private Shutdown pendingRemoval;

    /** A volume whose config was refused: it only reports why. */
    public static Behavior<Command> refused(String name, String reason) {
        return Behaviors.setup(ctx -> {
            ctx.getLog().error("volume {}: not started: {}", name, reason);
            return Behaviors.receive(Command.class)
                    .onMessage(FromKernel.class, m -> {
                        m.accepted().accept();
                        return Behaviors.same();
                    })
                    .onMessage(GetStatus.class, m -> {
                        m.replyTo().tell(new VolumeStatus(name, VolumeStatus.State.DEGRADED, reason, 0, 0, 0, 0, 0, null, 0, 0, 0, null, null,
                                null));
                        return Behaviors.same();
                    })
                    .onMessage(Shutdown.class, m -> {
                        m.replyTo().tell(new ShutdownResult(name, null));
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }

    /**
     * A volume. {@code ledger} outlives restarts of this actor (the parent keeps it), so a crash
     * resumes from what the kernel already told us.
     */
    public static Behavior<Command> create(VolumeConfig config, Settings settings, Environment env) {
        VolumeLedger ledger = new VolumeLedger();
        return Behaviors.<Command>supervise(Behaviors.setup(ctx -> Behaviors.withTimers(
                timers -> new Volume(ctx, timers, config, settings, env, ledger))))
                .onFailure(RuntimeException.class, SupervisorStrategy.restart());
    }

    private Volume(ActorContext<Command> ctx, TimerScheduler<Command> timers, VolumeConfig config, Settings settings,
            Environment env, VolumeLedger ledger) {
        super(ctx);
        this.config = config;
        this.settings = settings;
        this.env = env;
        this.ledger = ledger;
        this.timers = timers;
        this.allocatorReplies = ctx.messageAdapter(Allocator.Reply.class, FromAllocator::new);
        this.reloader = ctx.spawn(TableReloader.create(config, env.dm(), env.loops(),
                ctx.messageAdapter(TableReloader.Reply.class, FromReloader::new)), "reloader",
                DispatcherSelector.fromConfig(TableReloader.DISPATCHER));
        timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.commitInterval());
        // Resuming after a crash: what the old children were doing is gone; ask again.
        ledger.allocatorReady = false;
        ledger.committing = false;
        ledger.reloading = false;
        ledger.activating = false;
        for (Chunk c : ledger.chunks.values()) {
            if (c.state == State.COMMITTING) {
                ledger.set(c, State.FILLED);
            }
        }
        // finds the loop devices attached before a restart, so it is safe to repeat
        reloader.tell(TableReloader.Attach.INSTANCE);
        handleInbox();
        releaseAcks();
    }

    private void spawnAllocator() {
        if (allocator != null) {
            getContext().stop(allocator);
        }
        ledger.allocatorEpoch++;
        allocator = getContext().spawn(Allocator.create(ledger.allocatorEpoch, config, ledger.cowLoop, env.opener(),
                allocatorReplies), "allocator-" + ledger.allocatorEpoch,
                DispatcherSelector.fromConfig(Allocator.DISPATCHER));
    }

    /**
     * Every message may change the volume's own work, so after each one the chunks it set PLACING
     * are asked for in one Place, and held kernel messages are released if the volume has room
     * again (a missed ask or release stalls the control stream).
     */
    @Override
    public Receive<Command> createReceive() {
        Receive<Command> handlers = handlers();
        return new Receive<>() {
            @Override
            public Behavior<Command> receiveMessage(Command msg) throws Exception {
                Behavior<Command> next = handlers.receiveMessage(msg);
                askPlaces();
                releaseAcks();
                return next;
            }

            @Override
            public Behavior<Command> receiveSignal(Signal signal) throws Exception {
                return handlers.receiveSignal(signal);
            }
        };
    }

    private Receive<Command> handlers() {
        return newReceiveBuilder()
                .onMessage(FromKernel.class, this::onKernel)
                .onMessage(FromAllocator.class, m -> onAllocator(m.reply()))
                .onMessage(FromReloader.class, m -> onReloader(m.reply()))
                .onMessage(Tick.class, m -> onTick())
                .onMessage(Retry.class, m -> onRetry())
                .onMessage(ReloadDue.class, m -> startReload())
                .onMessage(GetStatus.class, this::onStatus)
                .onMessage(Shutdown.class, this::onShutdown)
                .build();
    }

    private Behavior<Command> degrade(Degraded cause, String reason) {
        if (cause != ledger.degraded || !reason.equals(ledger.degradedReason)) {
            getContext().getLog().error("volume {}: degraded, writes to new chunks wait: {}", config.name(), reason);
        }
        ledger.degraded = cause;
        ledger.degradedReason = reason;
        return this;
    }

    /** Ends a degradation by {@code cause}; one by another cause stays. */
    private void recover(Degraded cause) {
        if (ledger.degraded == cause) {
            getContext().getLog().info("volume {}: serving again (was: {})", config.name(), ledger.degradedReason);
            ledger.degraded = null;
            ledger.degradedReason = null;
            placeWaiting();
        }
    }

    // ---- children's replies

    private Behavior<Command> onAllocator(Allocator.Reply reply) {
        if (reply.epoch() != ledger.allocatorEpoch) {
            if (reply instanceof Allocator.RunsReady) {
                // the runs went with an allocator this volume no longer owns: the next reload asks again
                ledger.reloading = false;
                ledger.activating = false;
            }
            return this;
        }
        if (reply instanceof Allocator.Ready m) {
            return onAllocatorReady(m);
        } else if (reply instanceof Allocator.OpenFailed m) {
            return degrade(Degraded.SPACE_OPEN, m.reason());
        } else if (reply instanceof Allocator.Placed m) {
            return onPlaced(m);
        } else if (reply instanceof Allocator.PlaceFailed m) {
            return onPlaceFailed(m);
        } else if (reply instanceof Allocator.AdoptFailed m) {
            return degrade(Degraded.ADOPTION, "the kernel holds chunk " + m.chunk() + " where the CoW space cannot: "
                    + m.reason());
        } else if (reply instanceof Allocator.Committed m) {
            return onCommitDone(m);
        } else if (reply instanceof Allocator.CommitFailed m) {
            return onCommitFailed(m);
        } else {
            return onRunsReady((Allocator.RunsReady) reply);
        }
    }

    private Behavior<Command> onReloader(TableReloader.Reply reply) {
        if (reply instanceof TableReloader.DevicesAttached m) {
            ledger.layout = m.layout();
            ledger.cowLoop = m.cowLoop();
            spawnAllocator();
            return this;
        } else if (reply instanceof TableReloader.DevicesFailed m) {
            return degrade(Degraded.DEVICES, m.reason());
        } else if (reply instanceof TableReloader.Reloaded m) {
            return onReloaded(m);
        } else if (reply instanceof TableReloader.ReloadFailed m) {
            return onReloadFailed(m);
        } else if (reply instanceof TableReloader.RemoveRefused m) {
            getContext().getLog().warn("volume {}: not removed, it stays and keeps serving: {}",
                    config.name(), m.reason());
            pendingRemoval.replyTo().tell(new ShutdownResult(config.name(), m.reason()));
            pendingRemoval = null;
            return this;
        } else if (reply instanceof TableReloader.Removed m) {
            return onRemoved(m);
        } else {
            return onRemovable();
        }
    }

    // ---- kernel messages

    private Behavior<Command> onKernel(FromKernel m) {
        // Held and queued first: if one message crashes the actor, the restarted one handles the
        // rest and still acknowledges them.
        ledger.heldAcks.add(m.accepted());
        ledger.inbox.addAll(m.messages());
        handleInbox();
        return this;
    }

    private void handleInbox() {
        for (ControlMessage msg = ledger.inbox.poll(); msg != null; msg = ledger.inbox.poll()) {
            handleKernel(msg);
        }
    }

    private void handleKernel(ControlMessage msg) {
        if (msg instanceof ControlMessage.Volume v) {
            onKernelVolume(v);
        } else if (msg instanceof ControlMessage.VolumeGone) {
            getContext().getLog().info("volume {}: the kernel dropped its last table", config.name());
            ledger.kernelVolume = 0;
        } else if (msg instanceof ControlMessage.Fault f) {
            onFault(f);
        } else if (msg instanceof ControlMessage.Granted g) {
            onGranted(g);
        } else if (msg instanceof ControlMessage.Filled f) {
            onFilled(f);
        } else if (msg instanceof ControlMessage.Flush f) {
            ledger.flushWanted = Math.max(ledger.flushWanted, f.fillSeq());
            commitNow();
        } else {
            reject("unexpected message from the kernel: " + msg);
        }
    }

    private void reject(String why) {
        getContext().getLog().warn("volume {}: ignored: {}", config.name(), why);
    }

    private void onKernelVolume(ControlMessage.Volume v) {
        ledger.kernelVolume = v.volume();
        if (v.chunkSectors() != config.chunkSectors()) {
            degrade(Degraded.KERNEL_TABLE, "the kernel's table has chunk_sectors " + v.chunkSectors() + " but the config says chunk-size = "
                    + config.chunkSize());
        } else if (ledger.layout != null && v.volumeSectors() != ledger.layout.volumeSectors()) {
            degrade(Degraded.KERNEL_TABLE, "the kernel's volume has " + v.volumeSectors() + " sectors but the base has "
                    + ledger.layout.volumeSectors());
        }
    }

    private long volumeChunks() {
        return ledger.layout == null ? Long.MAX_VALUE
                : (ledger.layout.volumeSectors() + config.chunkSectors() - 1) / config.chunkSectors();
    }

    private void onFault(ControlMessage.Fault f) {
        if (shutdown != null && !shutdown.remove()) {
            return; // left to the kernel: the next daemon gets it in the replay
        }
        if (f.chunk() < 0 || f.chunk() >= volumeChunks()) {
            reject("fault " + f.seq() + " on chunk " + f.chunk() + " past the end of the volume");
            env.replies().send(new ControlMessage.Fail(ledger.kernelVolume, f.seq(), f.chunk(), EIO));
            return;
        }
        Chunk c = ledger.chunks.get(f.chunk());
        if (c != null && c.state == State.MAPPED && c.faultSeq != f.seq()) {
            // the fill failed: the kernel dropped the grant and faults again; the place is still ours
            getContext().getLog().warn("volume {}: chunk {} faulted again (seq {}) after its fill failed; "
                    + "mapping it to the same place", config.name(), f.chunk(), f.seq());
            c.faultSeq = f.seq();
            c.fullWrite = f.fullWrite();
            ledger.set(c, State.PLACED);
            c.fill = f.fullWrite() ? Protocol.FILL_NONE : c.placedFill;
            sendMap(c);
            ledger.mapped--; // counted once per chunk
            return;
        }
        if (c != null) {
            reject(c.faultSeq == f.seq() ? "repeated fault " + f.seq() + " on chunk " + f.chunk()
                    : "fault " + f.seq() + " on chunk " + f.chunk() + ", which is already " + c.state);
            return;
        }
        c = new Chunk(f.chunk(), State.WAITING);
        c.faultSeq = f.seq();
        c.fullWrite = f.fullWrite();
        ledger.add(c);
        if (ledger.degraded == null && ledger.allocatorReady) {
            requestPlace(c);
        }
    }

    private void requestPlace(Chunk c) {
        ledger.set(c, State.PLACING);
        if (toPlaceCount == toPlace.length) {
            toPlace = Arrays.copyOf(toPlace, 2 * toPlaceCount);
        }
        toPlace[toPlaceCount++] = c.chunk;
    }

    /** One Place for the faults of a read, not one per fault. */
    private void askPlaces() {
        if (toPlaceCount > 0) {
            allocator.tell(new Allocator.Place(Arrays.copyOf(toPlace, toPlaceCount)));
            toPlaceCount = 0;
        }
    }

    private void placeWaiting() {
        if (!ledger.allocatorReady || shutdown != null && !shutdown.remove()) {
            return;
        }
        for (Chunk c : ledger.chunks.values()) {
            if (c.state == State.WAITING) {
                requestPlace(c);
            }
        }
    }

    private void onGranted(ControlMessage.Granted g) {
        long place = g.cowSector() * 512;
        Chunk c = ledger.chunks.get(g.chunk());
        if (c != null) {
            if (c.place != place) {
                reject("GRANTED chunk " + g.chunk() + " at sector " + g.cowSector() + ", which is " + c.state
                        + " at byte " + c.place);
            }
            return;
        }
        c = new Chunk(g.chunk(), State.MAPPED);
        c.place = place;
        ledger.add(c);
        ledger.mapped++;
        if (ledger.allocatorReady) {
            allocator.tell(new Allocator.Adopt(c.chunk, c.place));
        }
    }

    private void onFilled(ControlMessage.Filled f) {
        long place = f.cowSector() * 512;
        Chunk c = ledger.chunks.get(f.chunk());
        if (c == null) {
            // replayed FILLED of a chunk an earlier daemon mapped: adopt it
            c = new Chunk(f.chunk(), State.MAPPED);
            c.place = place;
            ledger.add(c);
            ledger.mapped++;
            if (ledger.allocatorReady) {
                allocator.tell(new Allocator.Adopt(c.chunk, c.place));
            }
        }
        if (c.state != State.MAPPED || c.place != place) {
            reject(c.fillSeq == f.seq() && c.place == place ? "repeated FILLED " + f.seq() + " of chunk " + f.chunk()
                    : "FILLED chunk " + f.chunk() + " at sector " + f.cowSector() + ", which is " + c.state
                            + " at byte " + c.place);
            return;
        }
        ledger.set(c, State.FILLED);
        c.fillSeq = f.seq();
        // Filled chunks count against max-in-flight: waiting for the tick with half of it filled
        // would stop the stream until then, capping a volume at max-in-flight faults per interval.
        if (c.fillSeq <= ledger.flushWanted || ledger.count(State.FILLED) >= settings.maxInFlight() / 2) {
            commitNow();
        }
    }

    /** Acknowledges kernel messages while the volume holds few enough chunks in flight. */
    private void releaseAcks() {
        if (ledger.heldAcks.isEmpty()) {
            return;
        }
        // A degraded volume parks its faults but never stops the stream: the others must go on.
        if (ledger.degraded == null && ledger.ownWork() >= settings.maxInFlight()) {
            return;
        }
        while (!ledger.heldAcks.isEmpty()) {
            ledger.heldAcks.poll().accept();
        }
    }

    // ---- allocator replies

    private Behavior<Command> onAllocatorReady(Allocator.Ready m) {
        ledger.allocatorReady = true;
        ledger.usage = m.usage();
        // Adopt what the kernel holds before placing anything new.
        for (Chunk c : ledger.chunks.values()) {
            if (c.place >= 0 && c.state.compareTo(State.DURABLE) < 0) {
                allocator.tell(new Allocator.Adopt(c.chunk, c.place));
            }
        }
        allocator.tell(Allocator.AdoptionDone.INSTANCE);
        for (Chunk c : ledger.chunks.values()) {
            if (c.state == State.PLACED) {
                sendMap(c);
            } else if (c.state == State.DURABLE) {
                sendCommitted(c);
            } else if (c.state == State.PLACING) {
                ledger.set(c, State.WAITING);
            }
        }
        if (!ledger.activated) {
            startActivation();
        }
        recover(Degraded.DEVICES);
        placeWaiting();
        commitNow();
        return this;
    }

    private Behavior<Command> onPlaced(Allocator.Placed m) {
        for (int i = 0; i < m.chunks().length; i++) {
            placed(m.chunks()[i], m.placements()[i]);
        }
        return this;
    }

    private void placed(long chunk, CowSpace.Placement placement) {
        Chunk c = ledger.chunks.get(chunk);
        if (c == null) {
            allocator.tell(new Allocator.Release(chunk));
            return;
        }
        if (c.state != State.PLACING && c.state != State.WAITING) {
            return; // a repeated answer after an allocator restart
        }
        c.place = placement.place();
        c.placedFill = placement.fill() == CowSpace.Fill.COPY ? Protocol.FILL_COPY : Protocol.FILL_ZERO;
        c.fill = c.fullWrite ? Protocol.FILL_NONE : c.placedFill;
        ledger.set(c, State.PLACED);
        sendMap(c);
    }

    private void sendMap(Chunk c) {
        env.replies().send(new ControlMessage.Map(ledger.kernelVolume, c.faultSeq, c.chunk, c.place / 512, c.fill));
        ledger.set(c, State.MAPPED);
        ledger.mapped++;
    }

    private Behavior<Command> onPlaceFailed(Allocator.PlaceFailed m) {
        Chunk c = ledger.chunks.get(m.chunk());
        if (c != null && c.state == State.PLACING) {
            ledger.set(c, State.WAITING);
        }
        if (m.failure() == Allocator.PlaceFailure.ALREADY_COMMITTED && c != null) {
            // the kernel asks for a chunk the space already has: refuse rather than overwrite it
            env.replies().send(new ControlMessage.Fail(ledger.kernelVolume, c.faultSeq, c.chunk, EIO));
            ledger.remove(c.chunk);
            reject(m.reason());
            return this;
        }
        return degrade(m.failure() == Allocator.PlaceFailure.SPACE_FULL ? Degraded.SPACE_FULL : Degraded.PLACEMENT,
                m.reason());
    }

    // ---- commits

    private void commitNow() {
        if (!ledger.allocatorReady) {
            return;
        }
        if (ledger.committing) {
            return; // the group running now is followed by another when it returns
        }
        List<CowSpace.Mapping> group = new ArrayList<>(ledger.filled.size());
        boolean dataDurable = true;
        for (Chunk c = ledger.filled.poll(); c != null; c = ledger.filled.poll()) {
            if (c.state == State.FILLED && ledger.chunks.get(c.chunk) == c) {
                ledger.set(c, State.COMMITTING);
                group.add(c.mapping());
                dataDurable &= c.fillSeq <= ledger.flushWanted;
            }
        }
        if (group.isEmpty()) {
            return;
        }
        ledger.committing = true;
        allocator.tell(new Allocator.Commit(group, dataDurable));
    }

    private Behavior<Command> onCommitDone(Allocator.Committed m) {
        ledger.committing = false;
        ledger.usage = m.usage();
        ledger.lastCommit = Instant.now();
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = ledger.chunks.get(x.volumeChunk());
            if (c != null && c.state == State.COMMITTING && c.place == x.place()) {
                ledger.set(c, State.DURABLE);
            }
        }
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = ledger.chunks.get(x.volumeChunk());
            if (c != null && c.state == State.DURABLE) {
                sendCommitted(c);
            }
        }
        recover(Degraded.METADATA);
        scheduleReload();
        commitNow();
        return maybeFinishShutdown();
    }

    private void sendCommitted(Chunk c) {
        env.replies().send(new ControlMessage.Committed(ledger.kernelVolume, c.chunk));
        ledger.set(c, State.COMMITTED);
        ledger.committed++;
    }

    private Behavior<Command> onCommitFailed(Allocator.CommitFailed m) {
        ledger.committing = false;
        for (CowSpace.Mapping x : m.mappings()) {
            Chunk c = ledger.chunks.get(x.volumeChunk());
            if (c != null && c.state == State.COMMITTING) {
                ledger.set(c, State.FILLED);
            }
        }
        // retried on the next tick
        degrade(Degraded.METADATA, "metadata commit failed: " + m.reason());
        return maybeFinishShutdown();
    }

    private Behavior<Command> onRetry() {
        if (ledger.degraded == null || shutdown != null) {
            return this;
        }
        getContext().getLog().info("volume {}: trying again (was: {})", config.name(), ledger.degradedReason);
        ledger.degraded = null;
        ledger.degradedReason = null;
        if (!ledger.allocatorReady) {
            reloader.tell(TableReloader.Attach.INSTANCE); // then a new allocator
        } else if (!ledger.activated) {
            startActivation();
        } else {
            placeWaiting();
            commitNow();
        }
        return this;
    }

    private Behavior<Command> onTick() {
        recover(Degraded.SPACE_FULL); // the space may have grown; placement says again if not
        commitNow();
        return this;
    }

    // ---- table reloads

    /** Creates or adopts the dm device with the committed runs. */
    private void startActivation() {
        ledger.reloading = true;
        ledger.activating = true;
        allocator.tell(Allocator.TableRuns.INSTANCE);
    }

    /** Reload after max-mappings committed chunks, or max-delay after the first of them. */
    private void scheduleReload() {
        long waiting = ledger.count(State.COMMITTED);
        if (waiting >= settings.reloadMaxMappings()) {
            startReload();
        } else if (waiting > 0 && !timers.isTimerActive(ReloadDue.INSTANCE)) {
            timers.startSingleTimer(ReloadDue.INSTANCE, settings.reloadMaxDelay());
        }
    }

    private Behavior<Command> startReload() {
        timers.cancel(ReloadDue.INSTANCE);
        if (ledger.reloading || !ledger.allocatorReady || !ledger.activated || ledger.count(State.COMMITTED) == 0) {
            return this;
        }
        ledger.reloading = true;
        allocator.tell(Allocator.TableRuns.INSTANCE);
        return this;
    }

    private Behavior<Command> onRunsReady(Allocator.RunsReady m) {
        if (ledger.activating) {
            ledger.activating = false;
            reloader.tell(new TableReloader.Activate(m.runs()));
            return this;
        }
        List<Long> forget = new ArrayList<>();
        for (Chunk c : ledger.chunks.values()) {
            if (c.state == State.COMMITTED) {
                forget.add(c.chunk);
            }
        }
        reloader.tell(new TableReloader.Reload(m.runs(), forget));
        return this;
    }

    private Behavior<Command> onReloaded(TableReloader.Reloaded m) {
        ledger.reloading = false;
        ledger.segments = m.segments();
        if (!ledger.activated) {
            ledger.activated = true;
            getContext().getLog().info("volume {}: serving", config.name());
        }
        if (m.counted()) {
            ledger.reloads++;
        }
        // A table without cow segments ends the kernel's volume and its remaps with it: nothing to
        // forget there (a FORGET would be refused as one for an unknown volume).
        boolean kernelRemaps = m.cowLeft() && ledger.kernelVolume != 0;
        int waiting = 0;
        for (long chunk : m.forget()) {
            Chunk c = ledger.chunks.get(chunk);
            if (c == null || c.state != State.COMMITTED) {
                continue;
            }
            if (!kernelRemaps) {
                ledger.remove(chunk);
                continue;
            }
            // a chunk whose FORGET finds the reply queue full stays COMMITTED: the next reload
            // forgets it (the kernel serves it from its remap until then)
            if (waiting == 0 && env.replies().offer(new ControlMessage.Forget(ledger.kernelVolume, chunk))) {
                ledger.remove(chunk);
            } else {
                waiting++;
            }
        }
        if (waiting > 0) {
            getContext().getLog().info("volume {}: the reply queue is full: {} chunks are forgotten at the next "
                    + "reload", config.name(), waiting);
        }
        scheduleReload();
        return maybeFinishShutdown();
    }

    private Behavior<Command> onReloadFailed(TableReloader.ReloadFailed m) {
        ledger.reloading = false;
        if (!ledger.activated) {
            return degrade(Degraded.ACTIVATION, m.reason());
        }
        // the kernel keeps serving committed chunks by remap meanwhile; try again later
        getContext().getLog().error("volume {}: {}", config.name(), m.reason());
        if (shutdown != null) {
            shutdown.replyTo().tell(new ShutdownResult(config.name(), m.reason()));
            return Behaviors.stopped();
        }
        timers.startSingleTimer(ReloadDue.INSTANCE, settings.reloadMaxDelay());
        return this;
    }

    // ---- shutdown and status

    private Behavior<Command> onShutdown(Shutdown m) {
        if (m.remove()) {
            // a removal first checks the device is unused: until then nothing changes
            pendingRemoval = m;
            reloader.tell(TableReloader.CheckRemovable.INSTANCE);
            return this;
        }
        shutdown = m;
        getContext().getLog().info("volume {}: committing for shutdown", config.name());
        commitNow();
        return maybeFinishShutdown();
    }

    private Behavior<Command> maybeFinishShutdown() {
        if (shutdown == null || ledger.committing || ledger.reloading) {
            return this;
        }
        if (ledger.count(State.FILLED) > 0 && ledger.allocatorReady && ledger.degraded == null) {
            commitNow();
            return this;
        }
        if (ledger.count(State.COMMITTED) > 0 && ledger.activated && ledger.allocatorReady) {
            startReload();
            return this;
        }
        if (shutdown.remove()) {
            reloader.tell(TableReloader.Remove.INSTANCE);
            return this;
        }
        shutdown.replyTo().tell(new ShutdownResult(config.name(), null));
        return Behaviors.stopped();
    }

    private Behavior<Command> onRemovable() {
        if (shutdown != null) {
            // the daemon is stopping: the device stays, like every other
            pendingRemoval.replyTo().tell(new ShutdownResult(config.name(), "the daemon is stopping"));
            pendingRemoval = null;
            return this;
        }
        shutdown = pendingRemoval;
        pendingRemoval = null;
        getContext().getLog().info("volume {}: committing before removal", config.name());
        commitNow();
        return maybeFinishShutdown();
    }

    private Behavior<Command> onRemoved(TableReloader.Removed m) {
        ShutdownResult r = new ShutdownResult(config.name(), m.error());
        if (m.error() != null) {
            // opened meanwhile: it keeps serving
            getContext().getLog().warn("volume {}: not removed, it stays and keeps serving: {}",
                    config.name(), m.error());
            shutdown.replyTo().tell(r);
            shutdown = null;
            return this;
        }
        getContext().getLog().info("volume {}: removed /dev/mapper/{}", config.name(), config.name());
        shutdown.replyTo().tell(r);
        return Behaviors.stopped();
    }

    private Behavior<Command> onStatus(GetStatus m) {
        VolumeStatus.State state = ledger.degraded != null ? VolumeStatus.State.DEGRADED
                : shutdown != null ? VolumeStatus.State.STOPPING
                : !ledger.activated || !ledger.allocatorReady ? VolumeStatus.State.STARTING
                : ledger.kernelVolume == 0 ? VolumeStatus.State.WAITING : VolumeStatus.State.SERVING;
        long pending = ledger.count(State.WAITING) + ledger.count(State.PLACING) + ledger.count(State.PLACED);
        m.replyTo().tell(new VolumeStatus(config.name(), state, ledger.degradedReason, ledger.mapped, ledger.usage.mappings(),
                pending, ledger.usage.usedChunks(), ledger.usage.freeChunks(), ledger.lastCommit, ledger.reloads,
                ledger.segments, config.chunkSize(), config.base(), config.cow(), config.format()));
        return this;
    }
}
