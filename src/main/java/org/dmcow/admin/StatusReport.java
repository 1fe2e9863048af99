/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.util.List;
import org.dmcow.util.Json;

/** The admin socket's status answer, JSON: {@code dmcowctl status} prints it or makes a table of it. */
public final class StatusReport {
    private StatusReport() {
    }

    public static String json(List<VolumeStatus> volumes) {
        return json(volumes, null);
    }

    /** With each volume's {@code source} (where it is configured) when {@code source} is not null. */
    public static String json(List<VolumeStatus> volumes, java.util.function.Function<String, String> source) {
        StringBuilder b = new StringBuilder("{\"schema\":" + Json.SCHEMA + ",\"volumes\":[");
        for (int i = 0; i < volumes.size(); i++) {
            VolumeStatus s = volumes.get(i);
            if (i > 0) {
                b.append(',');
            }
            b.append("{\"name\":").append(Json.quote(s.name()))
                    .append(",\"state\":").append(Json.quote(s.state().word()))
                    .append(",\"reason\":").append(Json.quote(s.reason()))
                    .append(",\"device\":").append(Json.quote("/dev/mapper/" + s.name()))
                    .append(",\"base\":").append(Json.quote(s.base() == null ? null : s.base().toString()))
                    .append(",\"cow\":").append(Json.quote(s.cow() == null ? null : s.cow().toString()))
                    .append(",\"format\":").append(Json.quote(s.format()))
                    .append(",\"chunk_size\":").append(s.chunkSize())
                    .append(",\"chunks_mapped\":").append(s.chunksMapped())
                    .append(",\"chunks_committed\":").append(s.chunksCommitted())
                    .append(",\"faults_pending\":").append(s.faultsPending())
                    .append(",\"cow_used_bytes\":").append(s.cowUsedChunks() * s.chunkSize())
                    .append(",\"cow_free_bytes\":").append(s.cowFreeChunks() * s.chunkSize())
                    .append(",\"cow_grows\":").append(s.cowGrows())
                    .append(",\"last_commit\":").append(Json.quote(s.lastCommit() == null ? null : s.lastCommit().toString()))
                    .append(",\"reloads\":").append(s.reloads())
                    .append(",\"segments\":").append(s.segments());
            if (source != null) {
                b.append(",\"source\":").append(Json.quote(source.apply(s.name())));
            }
            b
                    .append('}');
        }
        return b.append("]}\n").toString();
    }
}
