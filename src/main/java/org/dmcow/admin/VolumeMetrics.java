/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

/**
 * One volume's figures for {@link MetricsText}: its status (the gauges) and what it counted since
 * the daemon started it: faults taken, chunks filled, metadata commits (and failed ones), chunks
 * discarded whole and chunks unmapped durably, grants sent and chunks filled in granted slots,
 * each successful commit's duration in seconds.
 */
public record VolumeMetrics(VolumeStatus status, long faults, long fills, long commits, long commitFailures,
        long discards, long unmaps, long grants, long grantedFills, Histogram commitSeconds) {
}
