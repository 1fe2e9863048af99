/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.dmcow.admin.AdminOps;
import org.dmcow.admin.AdminServer;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.ReloadResult;
import org.dmcow.admin.StatusReport;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.DaemonConfig;
import org.dmcow.config.VolumesDir;

/**
 * The admin socket's ops, by name ({@link AdminOps}). Each op reads its fields from the request and
 * answers one JSON document; a new op is one more entry in {@link #ops}.
 */
final class DaemonAdmin {
    /** What the ops ask of the running daemon besides {@link RuntimeVolumes}. */
    interface Daemon {
        CompletionStage<List<VolumeStatus>> status();

        CompletionStage<GrowResult> grow(String name, long size, long by);

        /** The Prometheus text of {@link org.dmcow.admin.MetricsText}. */
        CompletionStage<String> metrics();

        /** Re-read the config file and the volumes folder, as SIGHUP does (told to systemd, logged). */
        ReloadResult reload();
    }

    private DaemonAdmin() {
    }

    static Map<String, AdminServer.Op> ops(Daemon daemon, RuntimeVolumes volumes) {
        return Map.of(
                AdminOps.STATUS, r -> StatusReport.json(status(daemon)),
                AdminOps.GROW, r -> daemon.grow(r.getString("volume"), r.getLong("size"), r.getLong("by"))
                        .toCompletableFuture().get(60, TimeUnit.SECONDS).json(),
                AdminOps.LIST, r -> {
                    DaemonConfig c = volumes.current();
                    return StatusReport.json(status(daemon), name -> c.fileVolumes().contains(name) ? "config"
                            : VolumesDir.file(c.volumesDir(), name).toString());
                },
                AdminOps.ADD, r -> volumes.add(r.getString("volume"), VolumesDir.text(
                        java.nio.file.Path.of(r.getString("base")), java.nio.file.Path.of(r.getString("cow")),
                        optional(r, "format"), optional(r, "chunk_size")),
                        Duration.ofMillis(r.hasPath("wait_ms") ? r.getLong("wait_ms") : 0)).json(),
                AdminOps.REMOVE, r -> volumes.remove(r.getString("volume")).json(),
                AdminOps.RELOAD, r -> daemon.reload().json(),
                AdminOps.METRICS, r -> daemon.metrics().toCompletableFuture().get(10, TimeUnit.SECONDS));
    }

    private static List<VolumeStatus> status(Daemon daemon) throws Exception {
        return daemon.status().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static String optional(Config r, String key) {
        return r.hasPath(key) ? r.getString(key) : null;
    }
}
