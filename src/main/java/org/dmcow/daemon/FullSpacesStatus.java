/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Tells systemd ({@code STATUS=}, shown by {@code systemctl status}) which volumes' CoW spaces are full. */
final class FullSpacesStatus implements SpaceWatch.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(FullSpacesStatus.class);
    /** Volumes' actors call in on their own threads: guarded by this object's lock. */
    private final Set<String> full = new TreeSet<>();

    @Override
    public synchronized void full(String volume, boolean isFull) {
        boolean changed = isFull ? full.add(volume) : full.remove(volume);
        if (!changed) {
            return;
        }
        try {
            SystemdNotify.notify("STATUS=" + (full.isEmpty() ? "no CoW space is full"
                    : "CoW space full: " + String.join(", ", full)));
        } catch (IOException e) {
            LOG.warn("sd_notify: {}", e.getMessage());
        }
    }
}
