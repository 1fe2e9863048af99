/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.apache.pekko.actor.typed.ActorRef;
import org.dmcow.daemon.VolumeLedger.Phase;
import org.slf4j.Logger;

/**
 * A volume's way out, on the volume actor's thread; the volume is in its {@code stopping} behaviour
 * from a stop, or from Removable, until it is done. Stopping (the daemon stops): faults are left to the kernel, every filled chunk is committed and
 * the committed ones get a last reload, then the asker is answered; the device keeps serving.
 * Removal (the volume left the config): the device must be unused before anything changes; then
 * the volume commits and reloads as for a stop, and removes the device only if it is still
 * unused. Either refusal leaves the volume serving, and says why.
 *
 * <pre>
 *   Shutdown(remove) ─▶ CheckRemovable ─┬─ RemoveRefused ─────────────────▶ serving (refused)
 *                                        └─ Removable ─▶ commit, reload ─▶ Remove ─┬─ Removed ─▶ stopped
 *                                           (the daemon stopping meanwhile:         └─ Removed(error)
 *                                            refused, the device stays)                ─▶ serving (refused)
 * </pre>
 */
final class VolumeShutdown {
    private final String volume;
    private final Logger log;
    private final VolumeLedger ledger;
    private final FaultPath faults;
    private final CommitGroups commits;
    private final TableReloads<?> tables;
    private final AllocatorRequests requests;
    private final ActorRef<TableReloader.Command> reloader;
    /** Who asked for the removal, while the device is checked for users. */
    private ActorRef<ShutdownResult> asker;

    VolumeShutdown(String volume, Logger log, VolumeLedger ledger, FaultPath faults, CommitGroups commits,
            TableReloads<?> tables, AllocatorRequests requests, ActorRef<TableReloader.Command> reloader) {
        this.volume = volume;
        this.log = log;
        this.ledger = ledger;
        this.faults = faults;
        this.commits = commits;
        this.tables = tables;
        this.requests = requests;
        this.reloader = reloader;
    }

    /** The daemon stops: no new faults are taken, what is filled is committed. */
    void stop() {
        faults.leaveFaultsToKernel();
        log.info("volume {}: committing for shutdown", volume);
        commits.commitNow();
    }

    /**
     * Takes the next step once nothing runs: a commit, a last reload, the removal; true when none
     * is left and {@code replyTo} is answered.
     */
    boolean done(boolean remove, ActorRef<ShutdownResult> replyTo) {
        if (ledger.committing || ledger.reloading || !grantsReturned()) {
            return false;
        }
        if (ledger.chunks.awaitingCommit() > 0 && ledger.spaceOpen() && ledger.degraded == null) {
            commits.commitNow();
            return false;
        }
        if (ledger.chunks.awaitingReload() > 0 && ledger.phase == Phase.SERVING) {
            tables.start();
            return false;
        }
        if (remove) {
            reloader.tell(TableReloader.Remove.INSTANCE);
            return false;
        }
        replyTo.tell(new ShutdownResult(volume, null));
        return true;
    }

    /**
     * Every grant revoked and the places of its unwritten chunks released, and the allocator past
     * those releases ({@link Allocator.Sync}); at once when the space is not open.
     */
    private boolean grantsReturned() {
        if (!faults.grants().returnedForShutdown()) {
            return false;
        }
        if (ledger.synced || !ledger.spaceOpen()) {
            return true;
        }
        if (!ledger.syncing) {
            ledger.syncing = true;
            requests.add(Allocator.Sync.INSTANCE);
        }
        return false;
    }

    /** The allocator did what it was asked before the Sync. */
    void synced() {
        ledger.syncing = false;
        ledger.synced = true;
    }

    /** A reload of the active device failed while stopping: the asker learns why, the volume stops. */
    void reloadFailed(ActorRef<ShutdownResult> replyTo, String reason) {
        ledger.reloading = false;
        log.error("volume {}: {}", volume, reason);
        replyTo.tell(new ShutdownResult(volume, reason));
    }

    /** Asks for the check that the device is unused; until its answer nothing changes. */
    TableReloader.Command ask(ActorRef<ShutdownResult> replyTo) {
        asker = replyTo;
        return TableReloader.CheckRemovable.INSTANCE;
    }

    /** The device is in use: the volume stays and keeps serving. */
    void refused(String reason) {
        log.warn("volume {}: not removed, it stays and keeps serving: {}", volume, reason);
        asker.tell(new ShutdownResult(volume, reason));
        asker = null;
    }

    /**
     * The device is unused: who asked, for the removal to run now, or null when the daemon began
     * stopping meanwhile (then the device stays, like every other).
     */
    ActorRef<ShutdownResult> removable(boolean daemonStopping) {
        ActorRef<ShutdownResult> replyTo = asker;
        asker = null;
        if (daemonStopping) {
            replyTo.tell(new ShutdownResult(volume, "the daemon is stopping"));
            return null;
        }
        log.info("volume {}: committing before removal", volume);
        return replyTo;
    }

    /** The answer to Remove; true when the device is gone and the volume stops. */
    boolean removed(ActorRef<ShutdownResult> replyTo, String error) {
        if (error != null) {
            // opened meanwhile: it keeps serving, and granting
            log.warn("volume {}: not removed, it stays and keeps serving: {}", volume, error);
            ledger.synced = false;
            faults.grants().resume();
        } else {
            log.info("volume {}: removed /dev/mapper/{}", volume, volume);
        }
        replyTo.tell(new ShutdownResult(volume, error));
        return error == null;
    }
}
