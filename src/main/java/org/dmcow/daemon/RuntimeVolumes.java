/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.dmcow.admin.ReloadResult;
import org.dmcow.admin.VolumeChange;
import org.dmcow.admin.VolumeChange.Outcome;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.ConfigException;
import org.dmcow.config.DaemonConfig;
import org.dmcow.config.VolumesDir;

/**
 * Add, remove and reload: the config file plus {@code dmcow.volumes-dir} is the one truth, and the
 * volume set is told each new state of it. A candidate is built by {@link DaemonConfig#load} as if
 * the change were made, so an add is refused for exactly what a reload would refuse, with the same
 * message. Changes are made one at a time; waiting for a removal or for a device to serve is done
 * outside the lock.
 *
 * <p>Crash windows: an add writes NAME.conf (temp, fsync, rename, dir fsync) before the volume set
 * is told, so a crash before the rename leaves nothing (a stray {@code .NAME.conf.tmp} is ignored),
 * after it a restart serves the volume. A remove deletes NAME.conf only once the device is gone, so
 * a crash before that serves the volume again after a restart; remove it again.
 */
final class RuntimeVolumes {
    /** What the changes act on: the volume set and its status. */
    interface Target {
        void reconfigure(DaemonConfig config);

        CompletionStage<ShutdownResult> remove(DaemonConfig config, String name);

        /** The status of the volume called {@code name}: empty if none is served. */
        CompletionStage<List<VolumeStatus>> status(String name);
    }

    private static final Duration POLL = Duration.ofMillis(100);
    private final Path configFile;
    private final Target target;
    private DaemonConfig current;

    RuntimeVolumes(Path configFile, DaemonConfig started, Target target) {
        this.configFile = configFile;
        this.current = started;
        this.target = target;
    }

    synchronized DaemonConfig current() {
        return current;
    }

    /** Re-reads the config file and the volumes folder and applies them; what changed. */
    synchronized ReloadResult reload() {
        DaemonConfig next;
        try {
            next = DaemonConfig.load(configFile);
        } catch (ConfigException e) {
            return ReloadResult.failed("the new config is refused, nothing changed: " + e.getMessage());
        }
        List<String> added = new ArrayList<>(next.volumes().keySet());
        added.removeAll(current.volumes().keySet());
        List<String> removed = new ArrayList<>(current.volumes().keySet());
        removed.removeAll(next.volumes().keySet());
        removed.removeAll(next.volumeErrors().keySet());
        target.reconfigure(next);
        current = next;
        return new ReloadResult(added, removed, next.volumeErrors(), null);
    }

    /** Adds {@code name} with the HOCON {@code text} of its NAME.conf; {@code wait}: until it serves. */
    VolumeChange add(String name, String text, Duration wait) throws InterruptedException {
        synchronized (this) {
            Candidate candidate = checkAdd(name, text);
            if (candidate.refused().isPresent()) {
                return candidate.refused().get();
            }
            DaemonConfig next = candidate.next();
            try {
                VolumesDir.write(next.volumesDir(), name, text);
            } catch (IOException e) {
                return new VolumeChange(name, Outcome.FAILED, "not added: " + e.getMessage());
            }
            target.reconfigure(next);
            current = next;
        }
        if (wait.isZero()) {
            return new VolumeChange(name, Outcome.ADDED, "added; /dev/mapper/" + name + " is being set up");
        }
        return waitServing(name, wait);
    }

    /** An add's outcome before it is made: the config with the volume, or why it is refused. */
    private record Candidate(DaemonConfig next, Optional<VolumeChange> refused) {
        static Candidate refusedFor(String name, String why) {
            return new Candidate(null, refuse(name, why));
        }
    }

    /** The config with {@code name} added, read once, unless the add is refused. */
    private Candidate checkAdd(String name, String text) {
        try {
            DaemonConfig before = DaemonConfig.load(configFile);
            if (before.volumes().containsKey(name) || before.volumeErrors().containsKey(name)) {
                return Candidate.refusedFor(name, "volume " + name + " exists already (" + where(before, name) + ")");
            }
            DaemonConfig next = DaemonConfig.load(configFile, Map.of(name, text), Set.of());
            if (next.volumeErrors().containsKey(name)) {
                return Candidate.refusedFor(name, next.volumeErrors().get(name));
            }
            List<String> why = new ArrayList<>(); // a running volume the new one would conflict with
            next.volumeErrors().forEach((n, e) -> {
                if (!before.volumeErrors().containsKey(n)) {
                    why.add(e);
                }
            });
            return why.isEmpty() ? new Candidate(next, Optional.empty())
                    : Candidate.refusedFor(name, String.join("; ", why));
        } catch (ConfigException e) {
            return Candidate.refusedFor(name, "the config is refused, nothing changed: " + e.getMessage());
        }
    }

    /** Removes a volume added through the API; its NAME.conf goes once the device is gone. */
    VolumeChange remove(String name) throws Exception {
        CompletionStage<ShutdownResult> stopping;
        Path dir;
        synchronized (this) {
            DaemonConfig before;
            DaemonConfig next;
            try {
                before = DaemonConfig.load(configFile);
                next = DaemonConfig.load(configFile, Map.of(), Set.of(name));
            } catch (ConfigException e) {
                return refuse(name, "the config is refused, nothing changed: " + e.getMessage()).get();
            }
            if (before.fileVolumes().contains(name)) {
                return refuse(name, "volume " + name + " is defined in the config file " + configFile
                        + ", not added through dmcowctl add: remove it there and run dmcowctl reload").get();
            }
            dir = before.volumesDir();
            if (!VolumesDir.file(dir, name).toFile().exists()) {
                return refuse(name, "no volume " + name + " was added (no " + VolumesDir.file(dir, name) + ")").get();
            }
            stopping = target.remove(next, name);
            current = next;
        }
        ShutdownResult r = stopping.toCompletableFuture().get(Tuning.VOLUME_SHUTDOWN.toMillis(), TimeUnit.MILLISECONDS);
        if (r.refused() != null) {
            return new VolumeChange(name, Outcome.BUSY, "not removed, it keeps serving: " + r.refused());
        }
        synchronized (this) {
            VolumesDir.delete(dir, name);
        }
        return new VolumeChange(name, Outcome.REMOVED, "committed; /dev/mapper/" + name + " and "
                + VolumesDir.file(dir, name) + " removed");
    }

    private VolumeChange waitServing(String name, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        String last = "no status yet";
        while (true) {
            try {
                for (VolumeStatus s : target.status(name).toCompletableFuture().get(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                    if (s.name().equals(name)) {
                        if (s.state() == VolumeStatus.State.SERVING) {
                            return new VolumeChange(name, Outcome.ADDED, "added; /dev/mapper/" + name + " serves");
                        }
                        last = s.state().word() + (s.reason() == null ? "" : ": " + s.reason());
                    }
                }
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                last = "no status: " + e.getMessage();
            }
            if (System.nanoTime() > deadline) {
                return new VolumeChange(name, Outcome.NOT_SERVING, "added (it stays in "
                        + current().volumesDir() + "), but not serving after " + wait.toMillis() + " ms: " + last);
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    private String where(DaemonConfig c, String name) {
        return c.fileVolumes().contains(name) ? "in " + configFile : "in " + VolumesDir.file(c.volumesDir(), name);
    }

    private static Optional<VolumeChange> refuse(String name, String why) {
        return Optional.of(new VolumeChange(name, Outcome.REFUSED, why));
    }
}
