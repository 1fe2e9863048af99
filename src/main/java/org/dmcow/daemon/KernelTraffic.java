/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;
import org.dmcow.admin.DaemonMetrics;
import org.dmcow.protocol.ControlMessage;

/**
 * The control channel's counters for the daemon's metrics: messages read and written by type,
 * and errors by kind. Counted by the reader and writer threads as they work; {@link LongAdder}s in
 * maps fixed at construction, so counting takes no lock and allocates nothing.
 */
final class KernelTraffic {
    /** What went wrong on the channel; {@link #word} is the metric's label. */
    enum Error {
        /** A message from the kernel that did not decode, skipped. */
        MALFORMED,
        /** A reply the kernel refused (EINVAL), dropped. */
        REFUSED,
        /** A write to the control device that failed and was retried. */
        WRITE_RETRY,
        /** A read's messages the volumes did not accept in time. */
        ACCEPT_TIMEOUT;

        String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final Map<Class<?>, LongAdder> read = perType();
    private final Map<Class<?>, LongAdder> written = perType();
    private final EnumMap<Error, LongAdder> errors = new EnumMap<>(Error.class);

    KernelTraffic() {
        for (Error e : Error.values()) {
            errors.put(e, new LongAdder());
        }
    }

    private static Map<Class<?>, LongAdder> perType() {
        Map<Class<?>, LongAdder> m = new java.util.HashMap<>();
        for (Class<?> c : ControlMessage.class.getPermittedSubclasses()) {
            m.put(c, new LongAdder());
        }
        return Collections.unmodifiableMap(m);
    }

    void read(ControlMessage m) {
        read.get(m.getClass()).increment();
    }

    void written(ControlMessage m) {
        written.get(m.getClass()).increment();
    }

    void error(Error kind) {
        errors.get(kind).increment();
    }

    long errors(Error kind) {
        return errors.get(kind).sum();
    }

    DaemonMetrics metrics() {
        SortedMap<String, Long> e = new TreeMap<>();
        errors.forEach((k, n) -> e.put(k.word(), n.sum()));
        return new DaemonMetrics(byType(read), byType(written), e);
    }

    private static SortedMap<String, Long> byType(Map<Class<?>, LongAdder> counts) {
        SortedMap<String, Long> out = new TreeMap<>();
        counts.forEach((c, n) -> out.put(typeName(c), n.sum()));
        return out;
    }

    /** VolumeGone as volume_gone: kmod/dm-cow.h's DM_COW_MSG_VOLUME_GONE in lower case. */
    static String typeName(Class<?> type) {
        return type.getSimpleName().replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
    }
}
