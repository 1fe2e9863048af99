/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/** A daemon's status, grow and metrics answers fixed in advance, for the admin socket's two ends. */
public record FixedRequests(List<VolumeStatus> volumes, Function<String, GrowResult> grows) {
    /** Every grow refused: no such volume. */
    public static FixedRequests status(List<VolumeStatus> volumes) {
        return new FixedRequests(volumes, name -> GrowResult.refused(name, "no volume " + name + " is served"));
    }

    /** The ops as the daemon maps them; {@code grows} sees "NAME SIZE BY"; metrics: the volumes with nothing counted. */
    public Map<String, AdminServer.Op> ops() {
        return Map.of(AdminOps.STATUS, r -> StatusReport.json(volumes),
                AdminOps.GROW, r -> grows.apply(r.getString("volume") + " " + r.getLong("size") + " "
                        + r.getLong("by")).json(),
                AdminOps.METRICS, r -> MetricsText.render(volumes.stream()
                        .map(v -> new VolumeMetrics(v, 0, 0, 0, 0, 0, 0, 0, 0, Histogram.empty(new double[] {1}))).toList(),
                        new DaemonMetrics(new TreeMap<>(), new TreeMap<>(), new TreeMap<>())));
    }
}
