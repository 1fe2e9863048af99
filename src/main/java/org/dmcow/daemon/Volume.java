/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.VolumeMetrics;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.VolumeConfig;
import org.dmcow.dm.DeviceMapper;
import org.dmcow.dm.LoopDevices;
import org.dmcow.protocol.ControlMessage;

/**
 * One volume's lifecycle as behaviours; the way to serving and its degradation are
 * {@link VolumeSetUp}, the way out {@link VolumeShutdown}, its chunks' way from fault to commit the
 * {@link FaultPath}. Children:
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
 *  running ──Shutdown(remove), Removable──▶ removing ({@link VolumeShutdown}) ──▶ stopped, or running again
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

    /** The status and counters, for the daemon's metrics. */
    public record GetMetrics(ActorRef<VolumeMetrics> replyTo) implements Command {
    }

    /** The config was re-read (SIGHUP): a degraded volume tries again what failed. */
    public enum Retry implements Command {
        INSTANCE
    }

    /**
     * Take in the room the CoW space's file or device gained, after growing a file to
     * {@code size} bytes or by {@code by} (both 0: as it is); waiting writes to new chunks go on.
     */
    public record Grow(long size, long by, ActorRef<GrowResult> replyTo) implements Command {
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
    public record Settings(Duration commitInterval, int maxInFlight, int reloadMaxMappings, Duration reloadMaxDelay,
            int grantWindow) {
    }

    /** The outside world of a volume: where its replies go and how its devices and space are reached. */
    public record Environment(KernelReplies replies, DeviceMapper dm, LoopDevices loops, SpaceOpener opener,
            SpaceWatch.Listener spaceListener) {
    }

    private final ActorContext<Command> ctx;
    private final VolumeConfig config;
    private final VolumeLedger ledger;
    private final AllocatorRequests requests = new AllocatorRequests();
    private final FaultPath faults;
    private final CommitGroups commits;
    private final TableReloads<Command> tables;
    private final VolumeShutdown shutdowns;
    private final ActorRef<TableReloader.Command> reloader;
    private final VolumeSetUp setUp;
    private final SpaceWatch space;

    /**
     * A volume. {@code ledger} outlives restarts of this actor (the parent keeps it), so a crash
     * resumes from what the kernel already told us.
     */
    public static Behavior<Command> create(VolumeConfig config, Settings settings, Environment env) {
        VolumeLedger ledger = new VolumeLedger();
        return Behaviors.<Command>supervise(Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            Volume volume = new Volume(ctx, timers, config, settings, env, ledger);
            return Behaviors.intercept(() -> new AfterEachMessage<>(Command.class, volume::afterEachMessage),
                    volume.running());
        }))).onFailure(RuntimeException.class, SupervisorStrategy.restart());
    }

    private Volume(ActorContext<Command> ctx, TimerScheduler<Command> timers, VolumeConfig config, Settings settings,
            Environment env, VolumeLedger ledger) {
        this.ctx = ctx;
        this.config = config;
        this.ledger = ledger;
        this.reloader = ctx.spawn(TableReloader.create(config, env.dm(), env.loops(),
                ctx.messageAdapter(TableReloader.Reply.class, FromReloader::new)), "reloader",
                DispatcherSelector.fromConfig(TableReloader.DISPATCHER));
        this.commits = new CommitGroups(ledger, env.replies(), requests);
        this.faults = new FaultPath(config, settings.maxInFlight(), settings.grantWindow(), ledger, env.replies(),
                requests, commits, ctx.getLog());
        this.tables = new TableReloads<>(config.name(), settings.reloadMaxMappings(), settings.reloadMaxDelay(), ledger,
                commits, requests, reloader, timers, ReloadDue.INSTANCE, ctx.getLog());
        this.space = new SpaceWatch(config, ledger, faults, requests, env.spaceListener(), ctx.getLog());
        this.shutdowns = new VolumeShutdown(config.name(), ctx.getLog(), ledger, faults, commits, tables, requests,
                reloader);
        this.setUp = new VolumeSetUp(ctx, config, env.opener(), ledger, faults, commits, tables, reloader,
                ctx.messageAdapter(Allocator.Reply.class, FromAllocator::new));
        timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.commitInterval());
        ledger.childrenLost();
        setUp.attach();
        handleInbox();
        faults.releaseAcks();
    }

    /**
     * Every message may change the volume's own work, so after each one, in every behaviour, the
     * allocator gets what the fault path asks of it (one Place for all new faults), and held kernel
     * messages are released if the volume has room again (a missed ask or release stalls the
     * control stream).
     */
    private void afterEachMessage() {
        faults.grants().revokeAllIfStopping();
        setUp.sendToAllocator(requests);
        faults.releaseAcks();
    }

    /** What every behaviour does alike. */
    private BehaviorBuilder<Command> common() {
        return Behaviors.receive(Command.class)
                .onMessage(Tick.class, m -> onTick())
                .onMessage(ReloadDue.class, m -> {
                    tables.start();
                    return Behaviors.same();
                });
    }

    /** Setting up and serving, through the phases of the ledger, until a Shutdown. */
    private Behavior<Command> running() {
        return common()
                .onMessage(FromKernel.class, this::onKernel)
                .onMessage(FromAllocator.class, m -> {
                    onAllocator(m.reply());
                    return Behaviors.same();
                })
                .onMessage(FromReloader.class, m -> onReloaderRunning(m.reply()))
                .onMessage(Retry.class, m -> {
                    setUp.retry();
                    space.grow(0, 0, null); // the file or device may have grown
                    return Behaviors.same();
                })
                .onMessage(Grow.class, m -> {
                    space.grow(m.size(), m.by(), m.replyTo());
                    return Behaviors.same();
                })
                .onMessage(GetStatus.class, m -> onStatus(m, false))
                .onMessage(GetMetrics.class, m -> onMetrics(m, false))
                .onMessage(Shutdown.class, this::onShutdown)
                .build();
    }

    /**
     * Stopping ({@code !shutdown.remove()}) or removing: commits and a last reload run, then the
     * volume stops; a failed removal serves again.
     */
    private Behavior<Command> stopping(Shutdown shutdown) {
        return common()
                .onMessage(FromKernel.class, m -> {
                    onKernel(m); // a REVOKED or FILLED may be what the shutdown waits for
                    return maybeFinishShutdown(shutdown);
                })
                .onMessage(FromAllocator.class,
                        m -> onAllocator(m.reply()) ? maybeFinishShutdown(shutdown) : Behaviors.same())
                .onMessage(FromReloader.class, m -> onReloaderStopping(m.reply(), shutdown))
                .onMessage(Retry.class, m -> Behaviors.same())
                .onMessage(Grow.class, m -> {
                    m.replyTo().tell(GrowResult.refused(config.name(), "the volume is stopping"));
                    return Behaviors.same();
                })
                .onMessage(GetStatus.class, m -> onStatus(m, true))
                .onMessage(GetMetrics.class, m -> onMetrics(m, true))
                .onMessage(Shutdown.class, this::onShutdown)
                .build();
    }

    // ---- the kernel

    private Behavior<Command> onKernel(FromKernel m) {
        faults.take(m.messages(), m.accepted());
        handleInbox();
        return Behaviors.same();
    }

    private void handleInbox() {
        faults.handleInbox(mismatch -> setUp.degrade(Degraded.KERNEL_TABLE, mismatch));
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
            ledger.unmaps = m.unmaps();
            space.opened(m.usage(), m.growsItself());
        }
        if (setUp.onAllocator(reply)) {
            return false;
        } else if (reply instanceof Allocator.Placed m) {
            faults.placed(m);
            space.room("a new chunk was placed");
        } else if (reply instanceof Allocator.PlaceFailed m) {
            if (faults.placeFailed(m)) {
                if (m.failure() == Allocator.PlaceFailure.SPACE_FULL) {
                    space.full(m.reason());
                } else {
                    setUp.degrade(Degraded.PLACEMENT, m.reason());
                }
            }
        } else if (reply instanceof Allocator.AdoptFailed m) {
            setUp.degrade(Degraded.ADOPTION, "the kernel holds chunk " + m.chunk() + " where the CoW space cannot: "
                    + m.reason());
        } else if (reply instanceof Allocator.Committed m) {
            for (ChunkTable.Chunk c : commits.committed(m)) {
                faults.placeNew(c);
            }
            space.usage(m.usage());
            setUp.recover(Degraded.METADATA);
            tables.schedule();
            commits.commitNow();
            return true;
        } else if (reply instanceof Allocator.CommitFailed m) {
            commits.commitFailed(m);
            // retried on the next tick
            setUp.degrade(Degraded.METADATA, "metadata commit failed: " + m.reason());
            return true;
        } else if (reply instanceof Allocator.Grown m) {
            space.grown(m);
        } else if (reply instanceof Allocator.GrowFailed m) {
            space.growFailed(m);
        } else if (reply instanceof Allocator.Freed m) {
            space.freed(m);
        } else if (reply instanceof Allocator.Synced) {
            shutdowns.synced();
            return true;
        } else {
            tables.runsReady((Allocator.RunsReady) reply);
        }
        return false;
    }

    private Behavior<Command> onTick() {
        space.tick();
        commits.commitNow();
        return Behaviors.same();
    }

    // ---- the devices and tables

    private Behavior<Command> onReloaderRunning(TableReloader.Reply reply) {
        if (setUp.onReloader(reply)) {
            return Behaviors.same();
        } else if (reply instanceof TableReloader.Reloaded m) {
            tables.reloaded(m);
        } else if (reply instanceof TableReloader.ReloadFailed m) {
            // the device is active: the kernel keeps serving committed chunks by remap meanwhile
            ledger.reloading = false;
            ctx.getLog().error("volume {}: {}", config.name(), m.reason());
            tables.retryLater();
        } else if (reply instanceof TableReloader.RemoveRefused m) {
            shutdowns.refused(m.reason());
        } else if (reply instanceof TableReloader.Removable) {
            ActorRef<ShutdownResult> asker = shutdowns.removable(false);
            commits.commitNow();
            return maybeFinishShutdown(new Shutdown(true, asker));
        } else {
            // Removed, and no removal runs: a bug; the restart resumes from the ledger
            throw new IllegalStateException("volume " + config.name() + ": " + reply + " while not removing");
        }
        return Behaviors.same();
    }

    private Behavior<Command> onReloaderStopping(TableReloader.Reply reply, Shutdown shutdown) {
        if (setUp.onReloader(reply)) {
            return Behaviors.same();
        } else if (reply instanceof TableReloader.Reloaded m) {
            tables.reloaded(m);
            return maybeFinishShutdown(shutdown);
        } else if (reply instanceof TableReloader.ReloadFailed m) {
            shutdowns.reloadFailed(shutdown.replyTo(), m.reason());
            return Behaviors.stopped();
        } else if (reply instanceof TableReloader.RemoveRefused m) {
            shutdowns.refused(m.reason());
        } else if (reply instanceof TableReloader.Removable) {
            shutdowns.removable(true);
        } else if (reply instanceof TableReloader.Removed m) {
            return shutdowns.removed(shutdown.replyTo(), m.error()) ? Behaviors.stopped() : running();
        }
        return Behaviors.same();
    }

    // ---- shutdown and status

    private Behavior<Command> onShutdown(Shutdown m) {
        if (m.remove()) {
            reloader.tell(shutdowns.ask(m.replyTo()));
            return Behaviors.same();
        }
        shutdowns.stop();
        return maybeFinishShutdown(m);
    }

    /** The next step of a shutdown: in {@link #stopping} until it is done, then stopped. */
    private Behavior<Command> maybeFinishShutdown(Shutdown shutdown) {
        return shutdowns.done(shutdown.remove(), shutdown.replyTo()) ? Behaviors.stopped() : stopping(shutdown);
    }

    private Behavior<Command> onStatus(GetStatus m, boolean stopping) {
        m.replyTo().tell(ledger.status(config, stopping));
        return Behaviors.same();
    }

    private Behavior<Command> onMetrics(GetMetrics m, boolean stopping) {
        m.replyTo().tell(ledger.counters.metrics(ledger.status(config, stopping)));
        return Behaviors.same();
    }
}
