/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.List;
import org.dmcow.cli.Json;
import org.dmcow.config.Sizes;

/** {@code dmcowctl status} output: a table for people, JSON for tools. */
public final class StatusReport {
    private StatusReport() {
    }

    public static String text(List<VolumeStatus> volumes) {
        if (volumes.isEmpty()) {
            return "no volumes configured\n";
        }
        StringBuilder b = new StringBuilder(String.format("%-16s %-9s %9s %9s %7s %9s %9s %8s %5s  %s%n", "VOLUME",
                "STATE", "MAPPED", "COMMITTED", "PENDING", "COW-USED", "COW-FREE", "RELOADS", "SEGS", "LAST-COMMIT"));
        for (VolumeStatus s : volumes) {
            b.append(String.format("%-16s %-9s %9d %9d %7d %9s %9s %8d %5d  %s%n", s.name(), s.state(),
                    s.chunksMapped(), s.chunksCommitted(), s.faultsPending(),
                    Sizes.format(s.cowUsedChunks() * s.chunkSize()), Sizes.format(s.cowFreeChunks() * s.chunkSize()),
                    s.reloads(), s.segments(), s.lastCommit() == null ? "-" : s.lastCommit().toString()));
            if (s.reason() != null) {
                b.append("  ").append(s.name()).append(": ").append(s.reason()).append('\n');
            }
        }
        return b.toString();
    }

    public static String json(List<VolumeStatus> volumes) {
        StringBuilder b = new StringBuilder("{\"volumes\":[");
        for (int i = 0; i < volumes.size(); i++) {
            VolumeStatus s = volumes.get(i);
            if (i > 0) {
                b.append(',');
            }
            b.append("{\"name\":").append(Json.quote(s.name()))
                    .append(",\"state\":").append(Json.quote(s.state()))
                    .append(",\"reason\":").append(Json.quote(s.reason()))
                    .append(",\"chunk_size\":").append(s.chunkSize())
                    .append(",\"chunks_mapped\":").append(s.chunksMapped())
                    .append(",\"chunks_committed\":").append(s.chunksCommitted())
                    .append(",\"faults_pending\":").append(s.faultsPending())
                    .append(",\"cow_used_bytes\":").append(s.cowUsedChunks() * s.chunkSize())
                    .append(",\"cow_free_bytes\":").append(s.cowFreeChunks() * s.chunkSize())
                    .append(",\"last_commit\":").append(Json.quote(s.lastCommit() == null ? null : s.lastCommit().toString()))
                    .append(",\"reloads\":").append(s.reloads())
                    .append(",\"segments\":").append(s.segments())
                    .append('}');
        }
        return b.append("]}\n").toString();
    }
}
