/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.nio.file.Path;
import java.util.List;

/** What {@code dmcowctl check} found; clean when there are no findings. */
public record CheckReport(Path cow, String format, List<Finding> findings) {
    public boolean clean() {
        return findings.isEmpty();
    }

    /** One problem: a stable code (e.g. {@code bad-checksum}, {@code double-mapping}) and a message. */
    public record Finding(String code, String message) {
    }
}
