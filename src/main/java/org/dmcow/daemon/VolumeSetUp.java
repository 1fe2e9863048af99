/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.dmcow.config.VolumeConfig;
import org.dmcow.daemon.VolumeLedger.Phase;

/**
 * A volume's way to serving and back after a failure, on the volume actor's thread: the phases
 * attaching → opening (a new {@link Allocator}) → activating → serving of {@link VolumeLedger.Phase},
 * drawn in {@link Volume}'s class comment, and the degradation that overlays them: a typed cause
 * ({@link Degraded}) that one event ends ({@link #recover}) or a Retry clears, trying again the
 * phase that failed.
 */
final class VolumeSetUp {
    private final ActorContext<?> ctx;
    private final VolumeConfig config;
    private final SpaceOpener opener;
    private final VolumeLedger ledger;
    private final FaultPath faults;
    private final CommitGroups commits;
    private final TableReloads<?> tables;
    private final ActorRef<TableReloader.Command> reloader;
    private final ActorRef<Allocator.Reply> allocatorReplies;
    private ActorRef<Allocator.Command> allocator;

    VolumeSetUp(ActorContext<?> ctx, VolumeConfig config, SpaceOpener opener, VolumeLedger ledger, FaultPath faults,
            CommitGroups commits, TableReloads<?> tables, ActorRef<TableReloader.Command> reloader,
            ActorRef<Allocator.Reply> allocatorReplies) {
        this.ctx = ctx;
        this.config = config;
        this.opener = opener;
        this.ledger = ledger;
        this.faults = faults;
        this.commits = commits;
        this.tables = tables;
        this.reloader = reloader;
        this.allocatorReplies = allocatorReplies;
    }

    /** Attaching: the base and CoW devices; safe to repeat, it finds the loop devices attached before. */
    void attach() {
        reloader.tell(TableReloader.Attach.INSTANCE);
    }

    /** The set-up's replies of the reloader; false for one of serving or of a shutdown. */
    boolean onReloader(TableReloader.Reply reply) {
        if (reply instanceof TableReloader.DevicesAttached m) {
            devicesAttached(m);
        } else if (reply instanceof TableReloader.DevicesFailed m) {
            degrade(Degraded.DEVICES, m.reason());
        } else if (reply instanceof TableReloader.ReloadFailed m && !ledger.activated) {
            ledger.reloading = false;
            degrade(Degraded.ACTIVATION, m.reason());
        } else {
            return false;
        }
        return true;
    }

    /** The set-up's replies of the current allocator; false for one of placing or committing. */
    boolean onAllocator(Allocator.Reply reply) {
        if (reply instanceof Allocator.Ready m) {
            ready(m);
        } else if (reply instanceof Allocator.OpenFailed m) {
            degrade(Degraded.SPACE_OPEN, m.reason());
        } else {
            return false;
        }
        return true;
    }

    /** The devices are attached: a new allocator (the old one stopped) opens the space. */
    private void devicesAttached(TableReloader.DevicesAttached m) {
        ledger.layout = m.layout();
        ledger.cowLoop = m.cowLoop();
        if (allocator != null) {
            ctx.stop(allocator);
        }
        ledger.allocatorEpoch++;
        if (ledger.phase == Phase.ATTACHING) {
            ledger.phase = Phase.OPENING;
        }
        allocator = ctx.spawn(Allocator.create(ledger.allocatorEpoch, config, ledger.cowLoop, opener,
                allocatorReplies), "allocator-" + ledger.allocatorEpoch,
                DispatcherSelector.fromConfig(Allocator.DISPATCHER));
    }

    /** The current allocator opened the space: activating the dm device, or serving if it is active. */
    private void ready(Allocator.Ready m) {
        ledger.phase = ledger.activated ? Phase.SERVING : Phase.ACTIVATING;
        faults.spaceOpened();
        if (!ledger.activated) {
            tables.activate();
        }
        recover(Degraded.DEVICES);
        faults.placeWaiting();
        commits.commitNow();
    }

    /** Sends what the fault path, commits and reloads asked of the allocator. */
    void sendToAllocator(AllocatorRequests requests) {
        for (Allocator.Command c : requests.take()) {
            allocator.tell(c); // none before the first allocator: they all need it ready
        }
    }

    void degrade(Degraded cause, String reason) {
        if (cause != ledger.degraded || !reason.equals(ledger.degradedReason)) {
            ctx.getLog().error("volume {}: degraded, writes to new chunks wait: {}", config.name(), reason);
        }
        ledger.degraded = cause;
        ledger.degradedReason = reason;
    }

    /** Ends a degradation by {@code cause}; one by another cause stays. */
    void recover(Degraded cause) {
        if (ledger.degraded == cause) {
            ctx.getLog().info("volume {}: serving again (was: {})", config.name(), ledger.degradedReason);
            ledger.degraded = null;
            ledger.degradedReason = null;
            faults.placeWaiting();
        }
    }

    /** The config was re-read: a degraded volume tries again the phase it is in. */
    void retry() {
        if (ledger.degraded == null) {
            return;
        }
        ctx.getLog().info("volume {}: trying again (was: {})", config.name(), ledger.degradedReason);
        ledger.degraded = null;
        ledger.degradedReason = null;
        if (!ledger.spaceOpen()) {
            attach(); // then a new allocator
        } else if (!ledger.activated) {
            tables.activate();
        } else {
            faults.placeWaiting();
            commits.commitNow();
        }
    }
}
