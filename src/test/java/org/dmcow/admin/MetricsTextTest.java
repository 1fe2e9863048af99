/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The exposition is valid Prometheus text and says what the figures are. */
class MetricsTextTest {
    private static final double[] BOUNDS = {0.01, 0.1, 1};
    /** A name with every character a label value must escape. */
    private static final String ODD = "vm\"1\\x\ny";

    private static VolumeStatus status(String name, VolumeStatus.State state) {
        return new VolumeStatus(name, state, null, 10, 8, 2, 9, 91, null, 3, 4, 65536, null, null, "native", false);
    }

    static String sample() {
        TreeMap<String, Long> read = new TreeMap<>();
        read.put("fault", 12L);
        read.put("filled", 11L);
        TreeMap<String, Long> written = new TreeMap<>();
        written.put("map", 12L);
        TreeMap<String, Long> errors = new TreeMap<>();
        errors.put("malformed", 1L);
        return MetricsText.render(List.of(
                new VolumeMetrics(status("vm1", VolumeStatus.State.SERVING), 12, 11, 5, 1, 3, 2, 4, 9,
                        new Histogram(BOUNDS, new long[] {1, 4, 5}, 5, 0.42)),
                new VolumeMetrics(status(ODD, VolumeStatus.State.FULL), 0, 0, 0, 0, 0, 0, 0, 0, Histogram.empty(BOUNDS))),
                new DaemonMetrics(read, written, errors));
    }

    @Test
    void theTextParsesAndCarriesTheFigures() {
        String text = sample();
        PrometheusText p = PrometheusText.parse(text);
        assertTrue(p.types.keySet().stream().allMatch(n -> n.startsWith("dmcow_")), p.types.toString());
        assertEquals("histogram", p.types.get("dmcow_volume_commit_duration_seconds"));
        assertEquals("counter", p.types.get("dmcow_volume_faults_total"));
        assertEquals(12, p.value("dmcow_volume_faults_total", "volume", "vm1"));
        assertEquals(11, p.value("dmcow_volume_fills_total", "volume", "vm1"));
        assertEquals(5, p.value("dmcow_volume_commits_total", "volume", "vm1"));
        assertEquals(3, p.value("dmcow_volume_discards_total", "volume", "vm1"));
        assertEquals(2, p.value("dmcow_volume_unmaps_total", "volume", "vm1"));
        assertEquals(9 * 65536, p.value("dmcow_volume_cow_used_bytes", "volume", "vm1"));
        assertEquals(91 * 65536, p.value("dmcow_volume_cow_free_bytes", "volume", "vm1"));
        assertEquals(4, p.value("dmcow_volume_table_segments", "volume", "vm1"));
        assertEquals(4, p.value("dmcow_volume_commit_duration_seconds_bucket", "volume", "vm1", "le", "0.1"));
        assertEquals(5, p.value("dmcow_volume_commit_duration_seconds_bucket", "volume", "vm1", "le", "+Inf"));
        assertEquals(0.42, p.value("dmcow_volume_commit_duration_seconds_sum", "volume", "vm1"));
        assertEquals(1, p.value("dmcow_volume_state", "volume", "vm1", "state", "serving"));
        assertEquals(0, p.value("dmcow_volume_state", "volume", "vm1", "state", "full"));
        // the odd name came through the escapes unchanged
        assertEquals(1, p.value("dmcow_volume_state", "volume", ODD, "state", "full"));
        assertEquals(0, p.value("dmcow_volume_state", "volume", ODD, "state", "degraded"));
        assertTrue(text.contains("volume=\"vm\\\"1\\\\x\\ny\""), text);
        assertEquals(12, p.value("dmcow_kernel_messages_read_total", "type", "fault"));
        assertEquals(12, p.value("dmcow_kernel_messages_written_total", "type", "map"));
        assertEquals(1, p.value("dmcow_errors_total", "kind", "malformed"));
    }

    @Test
    void noVolumesIsStillValid() {
        PrometheusText p = PrometheusText.parse(MetricsText.render(List.of(),
                new DaemonMetrics(new TreeMap<>(), new TreeMap<>(), new TreeMap<>())));
        assertTrue(p.samples.isEmpty());
    }

    /** The reader can fail: each rule it checks, broken once in otherwise valid text. */
    @Test
    void theReaderRefusesWhatTheFormatForbids() {
        String good = sample();
        String bucket = "dmcow_volume_commit_duration_seconds_bucket{volume=\"vm1\",le=\"0.1\"} 4";
        List<String> broken = List.of(
                good.replace(bucket, bucket.replace("} 4", "} 0")), // not cumulative
                good.replace("dmcow_volume_commit_duration_seconds_count{volume=\"vm1\"} 5",
                        "dmcow_volume_commit_duration_seconds_count{volume=\"vm1\"} 6"), // +Inf != _count
                good.replace("# TYPE dmcow_volume_faults_total counter\n", ""), // no TYPE
                good.replace("vm\\\"1", "vm\"1"), // an unescaped quote
                good.replace("\\ny", "\\ty"), // an unknown escape
                good.replace("dmcow_volume_fills_total", "dmcow_volume_fills"), // a counter without _total
                good + "dmcow_volume_faults_total{volume=\"vm1\"} 1\n"); // a family split, the sample twice
        for (String b : broken) {
            assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse(b), b);
        }
    }
}
