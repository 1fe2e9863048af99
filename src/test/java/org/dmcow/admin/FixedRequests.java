/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/** A daemon's answers fixed in advance, for the admin socket's two ends. */
public record FixedRequests(List<VolumeStatus> volumes, Function<String, GrowResult> grows)
        implements AdminServer.Requests {
    /** Every grow refused: no such volume. */
    public static FixedRequests status(List<VolumeStatus> volumes) {
        return new FixedRequests(volumes, name -> GrowResult.refused(name, "no volume " + name + " is served"));
    }

    @Override
    public CompletionStage<List<VolumeStatus>> status() {
        return CompletableFuture.completedFuture(volumes);
    }

    @Override
    public CompletionStage<GrowResult> grow(String name, long size, long by) {
        return CompletableFuture.completedFuture(grows.apply(name + " " + size + " " + by));
    }

    /** The fixed volumes with nothing counted. */
    @Override
    public CompletionStage<String> metrics() {
        return CompletableFuture.completedFuture(MetricsText.render(volumes.stream()
                .map(v -> new VolumeMetrics(v, 0, 0, 0, 0, Histogram.empty(new double[] {1}))).toList(),
                new DaemonMetrics(new TreeMap<>(), new TreeMap<>(), new TreeMap<>())));
    }
}
