/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.slf4j.Logger;

/**
 * When a volume's table is loaded, on the volume actor's thread: the activation (create or adopt
 * the dm device) and then reloads that make committed chunks mapped segments, after
 * max-mappings of them or max-delay after the first. Each asks the allocator for the committed
 * runs, then the {@link TableReloader} to load them; one at a time. {@code M}: the volume's
 * messages, one of which ({@code due}) its timer sends when the delay is up.
 */
final class TableReloads<M> {
    private final String volume;
    private final int maxMappings;
    private final Duration maxDelay;
    private final VolumeLedger ledger;
    private final CommitGroups commits;
    private final AllocatorRequests requests;
    private final ActorRef<TableReloader.Command> reloader;
    private final TimerScheduler<M> timers;
    /** The volume's message that the reload delay is up: it calls {@link #start}. */
    private final M due;
    private final Logger log;
    /** Places unmapped before the running reload's runs were read: freed once it completes. */
    private List<Long> placesToFree = List.of();

    TableReloads(String volume, int maxMappings, Duration maxDelay, VolumeLedger ledger, CommitGroups commits,
            AllocatorRequests requests, ActorRef<TableReloader.Command> reloader, TimerScheduler<M> timers, M due,
            Logger log) {
        this.volume = volume;
        this.maxMappings = maxMappings;
        this.maxDelay = maxDelay;
        this.ledger = ledger;
        this.commits = commits;
        this.requests = requests;
        this.reloader = reloader;
        this.timers = timers;
        this.due = due;
        this.log = log;
    }

    /** Creates or adopts the dm device with the committed runs. */
    void activate() {
        ledger.reloading = true;
        ledger.activating = true;
        requests.add(Allocator.TableRuns.INSTANCE);
    }

    /** Reload after max-mappings committed chunks, or max-delay after the first of them. */
    void schedule() {
        long waiting = ledger.chunks.awaitingReload();
        if (waiting >= maxMappings) {
            start();
        } else if (waiting > 0 && !timers.isTimerActive(due)) {
            timers.startSingleTimer(due, maxDelay);
        }
    }

    /**
     * Reloads now, unless one runs, the volume is not serving yet, or there is nothing to serve
     * by mapped segments. A full space is no reason to wait: the noflush suspend hands the writes
     * waiting for room back to dm core.
     */
    void start() {
        timers.cancel(due);
        if (ledger.reloading || ledger.phase != VolumeLedger.Phase.SERVING || ledger.chunks.awaitingReload() == 0) {
            return;
        }
        ledger.reloading = true;
        requests.add(Allocator.TableRuns.INSTANCE);
    }

    /** The runs came from an allocator the volume no longer owns: the next reload asks again. */
    void runsLost() {
        ledger.reloading = false;
        ledger.activating = false;
    }

    void runsReady(Allocator.RunsReady m) {
        placesToFree = m.unmappedPlaces();
        if (ledger.activating) {
            ledger.activating = false;
            reloader.tell(new TableReloader.Activate(m.runs(), ledger.unmaps));
        } else {
            reloader.tell(new TableReloader.Reload(m.runs(), commits.chunksToForget(), ledger.unmaps));
        }
    }

    void reloaded(TableReloader.Reloaded m) {
        ledger.reloading = false;
        ledger.segments = m.segments();
        if (!ledger.activated) {
            ledger.activated = true;
            if (ledger.phase == VolumeLedger.Phase.ACTIVATING) {
                ledger.phase = VolumeLedger.Phase.SERVING;
            }
            log.info("volume {}: serving", volume);
        }
        switch (m.swap()) {
            case RELOAD -> ledger.reloads++;
            case CREATED -> requests.add(Allocator.ReclaimLeaks.INSTANCE);
            case ADOPTED -> {
                // the kernel volume replays its grants: they are adopted, nothing is a leak
            }
        }
        // the suspend waited for every write the old table sent: nothing goes to these places now
        if (!placesToFree.isEmpty()) {
            requests.add(new Allocator.FreePlaces(placesToFree));
            placesToFree = List.of();
        }
        int waiting = commits.forget(m);
        if (waiting > 0) {
            log.info("volume {}: the reply queue is full: {} chunks are forgotten at the next reload", volume,
                    waiting);
        }
        schedule();
    }

    /** A reload failed; the kernel keeps serving committed chunks by remap meanwhile: tried again later. */
    void retryLater() {
        placesToFree = List.of(); // still unmapped in the space: the next reload's runs bring them again
        timers.startSingleTimer(due, maxDelay);
    }
}
