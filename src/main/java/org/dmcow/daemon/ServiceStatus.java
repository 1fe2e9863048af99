/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.dmcow.admin.VolumeStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What systemd hears while the daemon runs, from one look at every volume's status at a time:
 * READY=1 once no volume is starting (their /dev/mapper nodes exist, so units ordered after dmcowd
 * find them), or after {@link Tuning#READY_WAIT} with a warning; a {@code STATUS=} line kept
 * current ("3 volumes: 2 serving, 1 full: vm7"); and, under {@code WatchdogSec=}, WATCHDOG=1
 * after each look the volume set answered, so a daemon whose actors stopped answering is killed
 * and restarted, and the kernel replays to the new one.
 */
final class ServiceStatus implements SpaceWatch.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceStatus.class);

    /** sd_notify, as a seam for tests. */
    interface Notifier {
        void notify(String state) throws IOException;
    }

    private final Supplier<CompletionStage<List<VolumeStatus>>> statuses;
    private final Notifier notifier;
    private final Optional<Duration> watchdog;
    private final Duration poll;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dmcowd-systemd");
        t.setDaemon(true);
        return t;
    });
    /** Only the timer thread touches these. */
    private boolean ready;
    private String status = "";
    private long startedNanos;

    /**
     * @param watchdog systemd's watchdog interval, if it watches this process
     * @param poll between two looks once ready; halved watchdog intervals are shorter
     */
    ServiceStatus(Supplier<CompletionStage<List<VolumeStatus>>> statuses, Notifier notifier,
            Optional<Duration> watchdog, Duration poll) {
        this.statuses = statuses;
        this.notifier = notifier;
        this.watchdog = watchdog;
        this.poll = watchdog.map(w -> w.dividedBy(2)).filter(w -> w.compareTo(poll) < 0).orElse(poll);
    }

    /**
     * systemd's watchdog interval from the environment it gives a watched service:
     * {@code WATCHDOG_USEC}, for this process when {@code WATCHDOG_PID} is unset or names it.
     */
    static Optional<Duration> watchdogInterval(Map<String, String> env, long pid) {
        String usec = env.get("WATCHDOG_USEC");
        String forPid = env.get("WATCHDOG_PID");
        if (usec == null || (forPid != null && !forPid.equals(Long.toString(pid)))) {
            return Optional.empty();
        }
        try {
            long us = Long.parseLong(usec.trim());
            return us > 0 ? Optional.of(Duration.ofNanos(us * 1000)) : Optional.empty();
        } catch (NumberFormatException e) {
            LOG.warn("WATCHDOG_USEC={} is not a number of microseconds: not sending WATCHDOG=1", usec);
            return Optional.empty();
        }
    }

    void start() {
        startedNanos = System.nanoTime();
        timer.schedule(this::look, 0, TimeUnit.MILLISECONDS);
    }

    /** At shutdown, before STOPPING=1: no more looks (systemd stops watching a stopping unit). */
    void stop() {
        timer.shutdownNow();
    }

    /** A space filled or has room again: say so now rather than at the next look. */
    @Override
    public void full(String volume, boolean isFull) {
        if (!timer.isShutdown()) {
            timer.execute(this::tell);
        }
    }

    private void look() {
        try {
            tell();
        } finally {
            if (!timer.isShutdown()) {
                timer.schedule(this::look, (ready ? poll : Tuning.READY_POLL).toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private void tell() {
        List<VolumeStatus> all;
        try {
            all = statuses.get().toCompletableFuture().get(Tuning.STATUS_ASK.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // no WATCHDOG=1 either: a set that does not answer is what the watchdog is for
            LOG.warn("the volume set did not answer a status ask: {}",
                    e instanceof ExecutionException ? e.getCause().toString() : "no answer in " + Tuning.STATUS_ASK);
            return;
        } catch (InterruptedException e) {
            return; // stopped
        }
        List<String> lines = new ArrayList<>();
        String now = describe(all);
        if (!ready) {
            boolean starting = all.stream().anyMatch(v -> v.state() == VolumeStatus.State.STARTING);
            boolean late = System.nanoTime() - startedNanos > Tuning.READY_WAIT.toNanos();
            if (!starting || late) {
                if (starting) {
                    LOG.warn("volumes still starting after {} s; telling systemd the daemon is ready anyway",
                            Tuning.READY_WAIT.toSeconds());
                }
                ready = true;
                lines.add("READY=1");
            }
        }
        if (!now.equals(status)) {
            status = now;
            lines.add("STATUS=" + now);
        }
        if (watchdog.isPresent()) {
            lines.add("WATCHDOG=1");
        }
        if (lines.isEmpty()) {
            return;
        }
        try {
            notifier.notify(String.join("\n", lines));
        } catch (IOException e) {
            LOG.warn("sd_notify: {}", e.getMessage());
        }
    }

    /** One line for {@code systemctl status}: the count, each state's count, and who is not serving. */
    static String describe(List<VolumeStatus> all) {
        Map<VolumeStatus.State, List<String>> byState = new EnumMap<>(VolumeStatus.State.class);
        for (VolumeStatus v : all) {
            byState.computeIfAbsent(v.state(), s -> new ArrayList<>()).add(v.name());
        }
        StringBuilder line = new StringBuilder().append(all.size()).append(all.size() == 1 ? " volume" : " volumes");
        String sep = ": ";
        for (Map.Entry<VolumeStatus.State, List<String>> e : byState.entrySet()) {
            List<String> names = e.getValue();
            line.append(sep).append(names.size()).append(' ').append(e.getKey().word());
            if (e.getKey() != VolumeStatus.State.SERVING) {
                line.append(": ").append(String.join(" ", names.subList(0, Math.min(names.size(), 8))));
                if (names.size() > 8) {
                    line.append(" ...");
                }
            }
            sep = ", ";
        }
        return line.toString();
    }
}
