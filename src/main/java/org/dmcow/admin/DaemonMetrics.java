/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.util.SortedMap;

/**
 * The daemon's own counters for {@link MetricsText}: kernel messages read and written by type
 * ({@code volume_gone} for kmod/dm-cow.h's DM_COW_MSG_VOLUME_GONE), and errors by kind.
 */
public record DaemonMetrics(SortedMap<String, Long> messagesRead, SortedMap<String, Long> messagesWritten,
        SortedMap<String, Long> errors) {
}
