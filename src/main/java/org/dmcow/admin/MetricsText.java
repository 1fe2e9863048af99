/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * The Prometheus text exposition format (version 0.0.4) of the daemon's metrics: {@code dmcow_}
 * names, one HELP and TYPE line per family before its samples, counters ending in {@code _total},
 * sizes in {@code _bytes}, durations in {@code _seconds} histograms. The same text answers
 * {@code dmcowctl metrics} and GET /metrics.
 */
public final class MetricsText {
    /** The media type of this text, for HTTP. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final StringBuilder out = new StringBuilder();

    private MetricsText() {
    }

    public static String render(List<VolumeMetrics> volumes, DaemonMetrics daemon) {
        MetricsText t = new MetricsText();
        t.volumes(volumes);
        t.daemon(daemon);
        return t.out.toString();
    }

    private void volumes(List<VolumeMetrics> volumes) {
        volumeGauge(volumes, "dmcow_volume_chunks_mapped", "Chunks mapped to a place in the CoW space this session.",
                v -> v.status().chunksMapped());
        volumeGauge(volumes, "dmcow_volume_chunks_committed", "Chunk mappings committed durably in the CoW space.",
                v -> v.status().chunksCommitted());
        volumeGauge(volumes, "dmcow_volume_chunks_pending", "Chunks the kernel faulted that wait for a place.",
                v -> v.status().faultsPending());
        volumeGauge(volumes, "dmcow_volume_cow_used_bytes", "Bytes of the CoW space holding chunks.",
                v -> v.status().cowUsedChunks() * v.status().chunkSize());
        volumeGauge(volumes, "dmcow_volume_cow_free_bytes",
                "Bytes of the CoW space free for new chunks (qcow2: room inside the file, which grows).",
                v -> v.status().cowFreeChunks() * v.status().chunkSize());
        volumeFamily(volumes, "dmcow_volume_faults_total", "counter", "Faults (first writes to a chunk) taken.",
                VolumeMetrics::faults);
        volumeFamily(volumes, "dmcow_volume_fills_total", "counter", "Chunks the kernel reported filled.",
                VolumeMetrics::fills);
        volumeFamily(volumes, "dmcow_volume_commits_total", "counter", "Metadata commits (groups of chunks) done.",
                VolumeMetrics::commits);
        volumeFamily(volumes, "dmcow_volume_commit_failures_total", "counter", "Metadata commits that failed.",
                VolumeMetrics::commitFailures);
        volumeFamily(volumes, "dmcow_volume_discards_total", "counter",
                "Committed chunks the guest discarded whole (their unmap follows).", VolumeMetrics::discards);
        volumeFamily(volumes, "dmcow_volume_unmaps_total", "counter",
                "Discarded chunks unmapped durably (their places are freed after the next table reload).",
                VolumeMetrics::unmaps);
        volumeFamily(volumes, "dmcow_volume_grants_total", "counter",
                "Runs of chunks placed ahead of the guest's first writes and granted to the kernel.",
                VolumeMetrics::grants);
        volumeFamily(volumes, "dmcow_volume_granted_fills_total", "counter",
                "First writes the kernel filled in a granted place, with no fault.", VolumeMetrics::grantedFills);
        commitHistogram(volumes);
        volumeFamily(volumes, "dmcow_volume_table_reloads_total", "counter", "Table reloads of the volume's device.",
                v -> v.status().reloads());
        volumeGauge(volumes, "dmcow_volume_table_segments", "Segments in the device's live table.",
                v -> v.status().segments());
        family("dmcow_volume_state", "gauge", "The volume's state: 1 for the current one, 0 for the others.");
        for (VolumeMetrics v : volumes) {
            for (VolumeStatus.State s : VolumeStatus.State.values()) {
                sample("dmcow_volume_state", labels("volume", v.status().name(), "state", s.word()),
                        s == v.status().state() ? 1 : 0);
            }
        }
    }

    private void commitHistogram(List<VolumeMetrics> volumes) {
        String name = "dmcow_volume_commit_duration_seconds";
        family(name, "histogram", "Time from asking for a metadata commit to its being durable.");
        for (VolumeMetrics v : volumes) {
            Histogram h = v.commitSeconds();
            String volume = "volume=\"" + escape(v.status().name()) + "\"";
            for (int i = 0; i < h.upperBounds().length; i++) {
                sample(name + "_bucket", "{" + volume + ",le=\"" + number(h.upperBounds()[i]) + "\"}",
                        h.cumulative()[i]);
            }
            sample(name + "_bucket", "{" + volume + ",le=\"+Inf\"}", h.count());
            out.append(name).append("_sum{").append(volume).append("} ").append(number(h.sum())).append('\n');
            sample(name + "_count", "{" + volume + "}", h.count());
        }
    }

    private void daemon(DaemonMetrics d) {
        labelled("dmcow_kernel_messages_read_total", "Messages read from the kernel, by type.", "type",
                d.messagesRead());
        labelled("dmcow_kernel_messages_written_total", "Messages written to the kernel, by type.", "type",
                d.messagesWritten());
        labelled("dmcow_errors_total", "Errors of the daemon's kernel channel, by kind.", "kind", d.errors());
    }

    private void labelled(String name, String help, String label, Map<String, Long> values) {
        family(name, "counter", help);
        values.forEach((k, n) -> sample(name, labels(label, k), n));
    }

    private void volumeGauge(List<VolumeMetrics> volumes, String name, String help, ToLongFunction<VolumeMetrics> f) {
        volumeFamily(volumes, name, "gauge", help, f);
    }

    private void volumeFamily(List<VolumeMetrics> volumes, String name, String type, String help,
            ToLongFunction<VolumeMetrics> f) {
        family(name, type, help);
        for (VolumeMetrics v : volumes) {
            sample(name, labels("volume", v.status().name()), f.applyAsLong(v));
        }
    }

    private void family(String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n"))
                .append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void sample(String name, String labels, long value) {
        out.append(name).append(labels).append(' ').append(value).append('\n');
    }

    private static String labels(String... pairs) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < pairs.length; i += 2) {
            b.append(i == 0 ? "" : ",").append(pairs[i]).append("=\"").append(escape(pairs[i + 1])).append('"');
        }
        return b.append('}').toString();
    }

    /** A label value as the format wants it: backslash, double quote and line feed escaped. */
    static String escape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** 0.005, not 5.0E-3: read by people too. */
    private static String number(double d) {
        return BigDecimal.valueOf(d).stripTrailingZeros().toPlainString();
    }
}
