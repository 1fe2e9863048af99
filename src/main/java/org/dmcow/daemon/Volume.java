/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.VolumeConfig;
import org.dmcow.daemon.ChunkTable.State;
import org.dmcow.daemon.VolumeLedger.Phase;
import org.dmcow.dm.DeviceMapper;
import org.dmcow.dm.LoopDevices;
import org.dmcow.protocol.ControlMessage;

/**
 * One volume's lifecycle; its chunks' way from fault to commit is the {@link FaultPath}. Children:
 * its {@link TableReloader} (devices, tables) and {@link Allocator} (the CoW space). A failure
 * degrades this volume alone ({@link Degraded}): new chunks wait, the reason is in the status and
 * the log, every other volume keeps serving.
 *
 * <pre>
 *  behaviour {@link #running}, its set-up phases in {@link VolumeLedger.Phase}:
 *
 *  attaching ──DevicesAttached──▶ opening ──Ready──▶ activating ──Reloaded──▶ serving
 *  (base, CoW and                 (the allocator     (the dm device is          (faults placed,
 *   their loop devices)            opens the space)   created or adopted)        committed, reloaded)
 *      │ DevicesFailed               │ OpenFailed       │ ReloadFailed              │ PlaceFailed, CommitFailed,
 *      ▼                             ▼                  ▼                           ▼ AdoptFailed, kernel table
 *  degraded(cause): new chunks wait in the phase that failed; the stream goes on
 *      ├── recover(cause): Ready ends DEVICES, a commit METADATA, a tick SPACE_FULL
 *      └── Retry (SIGHUP): any cause, trying that phase again
 *
 *  after a restart: attaching ──▶ opening ──Ready──▶ serving (the device is active already)
 *
 *  behaviour {@link #stopping}(shutdown), in any phase; kernel messages, status, commits go on:
 *  running ──Shutdown──▶ stopping: commit, reload ──▶ stopped (the device keeps serving)
 *  running ──Shutdown(remove), Removable──▶ removing ({@link VolumeRemoval}) ──▶ stopped, or running again
 * </pre>
 *
 * A crash restarts the actor (its children with it) from the {@link VolumeLedger}: attaching again
 * finds the loop devices, the new allocator adopts what the kernel holds.
 */
public final class Volume {
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

    private final ActorContext<Command> ctx;
    private final VolumeConfig config;
    private final Environment env;
    private final VolumeLedger ledger;
    private final AllocatorRequests requests = new AllocatorRequests();
    private final FaultPath faults;
    private final CommitGroups commits;
    private final TableReloads<Command> tables;
    private final VolumeRemoval removal;
    private final ActorRef<TableReloader.Command> reloader;
    private final ActorRef<Allocator.Reply> allocatorReplies;
    private ActorRef<Allocator.Command> allocator;

    /**
     * A volume. {@code ledger} outlives restarts of this actor (the parent keeps it), so a crash
     * resumes from what the kernel already told us.
     */
    public static Behavior<Command> create(VolumeConfig config, Settings settings, Environment env) {
        VolumeLedger ledger = new VolumeLedger();
        return Behaviors.<Command>supervise(Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            Volume volume = new Volume(ctx, timers, config, settings, env, ledger);
            return Behaviors.intercept(() -> volume.new AfterEachMessage(), volume.running());
        }))).onFailure(RuntimeException.class, SupervisorStrategy.restart());
    }

    private Volume(ActorContext<Command> ctx, TimerScheduler<Command> timers, VolumeConfig config, Settings settings,
            Environment env, VolumeLedger ledger) {
        this.ctx = ctx;
        this.config = config;
        this.env = env;
        this.ledger = ledger;
        this.allocatorReplies = ctx.messageAdapter(Allocator.Reply.class, FromAllocator::new);
        this.reloader = ctx.spawn(TableReloader.create(config, env.dm(), env.loops(),
                ctx.messageAdapter(TableReloader.Reply.class, FromReloader::new)), "reloader",
                DispatcherSelector.fromConfig(TableReloader.DISPATCHER));
        this.commits = new CommitGroups(ledger, env.replies(), requests);
        this.faults = new FaultPath(config, settings.maxInFlight(), ledger, env.replies(), requests, commits,
                ctx.getLog());
        this.tables = new TableReloads<>(config.name(), settings.reloadMaxMappings(), settings.reloadMaxDelay(), ledger,
                commits, requests, reloader, timers, ReloadDue.INSTANCE, ctx.getLog());
        this.removal = new VolumeRemoval(config.name(), ctx.getLog());
        timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.commitInterval());
        ledger.childrenLost();
        // finds the loop devices attached before a restart, so it is safe to repeat
        reloader.tell(TableReloader.Attach.INSTANCE);
        handleInbox();
        faults.releaseAcks();
    }

    /**
     * Every message may change the volume's own work, so after each one, in every behaviour, the
     * allocator gets what the fault path asks of it (one Place for all new faults), and held kernel
     * messages are released if the volume has room again (a missed ask or release stalls the
     * control stream).
     */
    private final class AfterEachMessage extends BehaviorInterceptor<Command, Command> {
        AfterEachMessage() {
            super(Command.class);
        }

        @Override
        public Behavior<Command> aroundReceive(TypedActorContext<Command> context, Command msg,
                ReceiveTarget<Command> target) {
            Behavior<Command> next = target.apply(context, msg);
            for (Allocator.Command c : requests.take()) {
                allocator.tell(c); // none before the first allocator: they all need it ready
            }
            faults.releaseAcks();
            return next;
        }
    }

    /** What every behaviour does alike. */
    private BehaviorBuilder<Command> common() {
        return Behaviors.receive(Command.class)
                .onMessage(FromKernel.class, this::onKernel)
                .onMessage(Tick.class, m -> onTick())
                .onMessage(ReloadDue.class, m -> {
                    tables.start();
                    return Behaviors.same();
                });
    }

    /** Setting up and serving, through the phases of the ledger, until a Shutdown. */
    private Behavior<Command> running() {
        return common()
                .onMessage(FromAllocator.class, m -> {
                    onAllocator(m.reply());
                    return Behaviors.same();
                })
                .onMessage(FromReloader.class, m -> onReloaderRunning(m.reply()))
                .onMessage(Retry.class, m -> onRetry())
                .onMessage(GetStatus.class, m -> onStatus(m, false))
                .onMessage(Shutdown.class, this::onShutdown)
                .build();
    }

    /**
     * Stopping ({@code !shutdown.remove()}) or removing: commits and a last reload run, then the
     * volume stops; a failed removal serves again.
     */
    private Behavior<Command> stopping(Shutdown shutdown) {
        return common()
                .onMessage(FromAllocator.class,
                        m -> onAllocator(m.reply()) ? maybeFinishShutdown(shutdown) : Behaviors.same())
                .onMessage(FromReloader.class, m -> onReloaderStopping(m.reply(), shutdown))
                .onMessage(Retry.class, m -> Behaviors.same())
                .onMessage(GetStatus.class, m -> onStatus(m, true))
                .onMessage(Shutdown.class, this::onShutdown)
                .build();
    }

    private void spawnAllocator() {
        if (allocator != null) {
            ctx.stop(allocator);
        }
        ledger.allocatorEpoch++;
        if (ledger.phase == Phase.ATTACHING) {
            ledger.phase = Phase.OPENING;
        }
        allocator = ctx.spawn(Allocator.create(ledger.allocatorEpoch, config, ledger.cowLoop, env.opener(),
                allocatorReplies), "allocator-" + ledger.allocatorEpoch,
                DispatcherSelector.fromConfig(Allocator.DISPATCHER));
    }

    private void degrade(Degraded cause, String reason) {
        if (cause != ledger.degraded || !reason.equals(ledger.degradedReason)) {
            ctx.getLog().error("volume {}: degraded, writes to new chunks wait: {}", config.name(), reason);
        }
        ledger.degraded = cause;
        ledger.degradedReason = reason;
    }

    /** Ends a degradation by {@code cause}; one by another cause stays. */
    private void recover(Degraded cause) {
        if (ledger.degraded == cause) {
            ctx.getLog().info("volume {}: serving again (was: {})", config.name(), ledger.degradedReason);
            ledger.degraded = null;
            ledger.degradedReason = null;
            faults.placeWaiting();
        }
    }

    // ---- the kernel

    private Behavior<Command> onKernel(FromKernel m) {
        // Held and queued first: if one message crashes the actor, the restarted one handles the
        // rest and still acknowledges them.
        ledger.heldAcks.add(m.accepted());
        ledger.inbox.addAll(m.messages());
        handleInbox();
        return Behaviors.same();
    }

    private void handleInbox() {
        for (ControlMessage msg = ledger.inbox.poll(); msg != null; msg = ledger.inbox.poll()) {
            if (msg instanceof ControlMessage.Volume v) {
                String mismatch = faults.kernelVolume(v);
                if (mismatch != null) {
                    degrade(Degraded.KERNEL_TABLE, mismatch);
                }
            } else {
                faults.handle(msg);
            }
        }
    }

    // ---- the allocator

    /** Returns whether the reply ended a commit of the current allocator (a shutdown waits for that). */
    private boolean onAllocator(Allocator.Reply reply) {
        if (reply.epoch() != ledger.allocatorEpoch) {
            if (reply instanceof Allocator.RunsReady) {
                tables.runsLost();
            }
            return false;
        }
        if (reply instanceof Allocator.Ready m) {
            ledger.phase = ledger.activated ? Phase.SERVING : Phase.ACTIVATING;
            ledger.usage = m.usage();
            faults.spaceOpened();
            if (!ledger.activated) {
                tables.activate();
            }
            recover(Degraded.DEVICES);
            faults.placeWaiting();
            commits.commitNow();
        } else if (reply instanceof Allocator.OpenFailed m) {
            degrade(Degraded.SPACE_OPEN, m.reason());
        } else if (reply instanceof Allocator.Placed m) {
            faults.placed(m);
        } else if (reply instanceof Allocator.PlaceFailed m) {
            if (faults.placeFailed(m)) {
                degrade(m.failure() == Allocator.PlaceFailure.SPACE_FULL ? Degraded.SPACE_FULL : Degraded.PLACEMENT,
                        m.reason());
            }
        } else if (reply instanceof Allocator.AdoptFailed m) {
            degrade(Degraded.ADOPTION, "the kernel holds chunk " + m.chunk() + " where the CoW space cannot: "
                    + m.reason());
        } else if (reply instanceof Allocator.Committed m) {
            commits.committed(m);
            recover(Degraded.METADATA);
            tables.schedule();
            commits.commitNow();
            return true;
        } else if (reply instanceof Allocator.CommitFailed m) {
            commits.commitFailed(m);
            // retried on the next tick
            degrade(Degraded.METADATA, "metadata commit failed: " + m.reason());
            return true;
        } else {
            tables.runsReady((Allocator.RunsReady) reply);
        }
        return false;
    }

    private Behavior<Command> onRetry() {
        if (ledger.degraded == null) {
            return Behaviors.same();
        }
        ctx.getLog().info("volume {}: trying again (was: {})", config.name(), ledger.degradedReason);
        ledger.degraded = null;
        ledger.degradedReason = null;
        if (!ledger.spaceOpen()) {
            reloader.tell(TableReloader.Attach.INSTANCE); // then a new allocator
        } else if (!ledger.activated) {
            tables.activate();
        } else {
            faults.placeWaiting();
            commits.commitNow();
        }
        return Behaviors.same();
    }

    private Behavior<Command> onTick() {
        recover(Degraded.SPACE_FULL); // the space may have grown; placement says again if not
        commits.commitNow();
        return Behaviors.same();
    }

    // ---- the devices and tables

    private Behavior<Command> onReloaderRunning(TableReloader.Reply reply) {
        if (reply instanceof TableReloader.Removable) {
            ActorRef<ShutdownResult> asker = removal.removable(false);
            commits.commitNow();
            return maybeFinishShutdown(new Shutdown(true, asker));
        } else if (reply instanceof TableReloader.ReloadFailed m && ledger.activated) {
            ledger.reloading = false;
            ctx.getLog().error("volume {}: {}", config.name(), m.reason());
            tables.retryLater();
        } else {
            onReloader(reply);
        }
        return Behaviors.same();
    }

    private Behavior<Command> onReloaderStopping(TableReloader.Reply reply, Shutdown shutdown) {
        if (reply instanceof TableReloader.Reloaded m) {
            tables.reloaded(m);
            return maybeFinishShutdown(shutdown);
        } else if (reply instanceof TableReloader.ReloadFailed m && ledger.activated) {
            ledger.reloading = false;
            ctx.getLog().error("volume {}: {}", config.name(), m.reason());
            shutdown.replyTo().tell(new ShutdownResult(config.name(), m.reason()));
            return Behaviors.stopped();
        } else if (reply instanceof TableReloader.Removed m) {
            return removal.removed(shutdown.replyTo(), m.error()) ? Behaviors.stopped() : running();
        } else if (reply instanceof TableReloader.Removable) {
            removal.removable(true);
        } else {
            onReloader(reply);
        }
        return Behaviors.same();
    }

    /** The replies every behaviour handles alike. */
    private void onReloader(TableReloader.Reply reply) {
        if (reply instanceof TableReloader.DevicesAttached m) {
            ledger.layout = m.layout();
            ledger.cowLoop = m.cowLoop();
            spawnAllocator();
        } else if (reply instanceof TableReloader.DevicesFailed m) {
            degrade(Degraded.DEVICES, m.reason());
        } else if (reply instanceof TableReloader.Reloaded m) {
            tables.reloaded(m);
        } else if (reply instanceof TableReloader.ReloadFailed m) {
            // the first activation failed: the volume cannot serve yet
            ledger.reloading = false;
            degrade(Degraded.ACTIVATION, m.reason());
        } else if (reply instanceof TableReloader.RemoveRefused m) {
            removal.refused(m.reason());
        } else {
            // Removed when no removal runs: a bug; the restart resumes from the ledger
            throw new IllegalStateException("volume " + config.name() + ": " + reply + " while not removing");
        }
    }

    // ---- shutdown and status

    private Behavior<Command> onShutdown(Shutdown m) {
        if (m.remove()) {
            reloader.tell(removal.ask(m.replyTo()));
            return Behaviors.same();
        }
        faults.leaveFaultsToKernel();
        ctx.getLog().info("volume {}: committing for shutdown", config.name());
        commits.commitNow();
        return maybeFinishShutdown(m);
    }

    /** The next step of a shutdown: in {@link #stopping} until it is done, then stopped. */
    private Behavior<Command> maybeFinishShutdown(Shutdown shutdown) {
        if (ledger.committing || ledger.reloading) {
            return stopping(shutdown);
        }
        if (ledger.chunks.count(State.FILLED) > 0 && ledger.spaceOpen() && ledger.degraded == null) {
            commits.commitNow();
            return stopping(shutdown);
        }
        if (ledger.chunks.count(State.COMMITTED) > 0 && ledger.phase == Phase.SERVING) {
            tables.start();
            return stopping(shutdown);
        }
        if (shutdown.remove()) {
            reloader.tell(TableReloader.Remove.INSTANCE);
            return stopping(shutdown);
        }
        shutdown.replyTo().tell(new ShutdownResult(config.name(), null));
        return Behaviors.stopped();
    }

    private Behavior<Command> onStatus(GetStatus m, boolean stopping) {
        m.replyTo().tell(ledger.status(config, stopping));
        return Behaviors.same();
    }
}
