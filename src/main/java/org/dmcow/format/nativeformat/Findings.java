/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.util.ArrayList;
import java.util.List;
import org.dmcow.format.CheckReport;
import org.dmcow.format.FormatException;

/**
 * Where {@link SpaceReader} reports problems: opening refuses at the first, checking collects them
 * all. The codes are the stable ones {@code dmcowctl check} prints.
 */
interface Findings {
    /** A problem that makes the space unusable (or its metadata untrustworthy). */
    void found(String code, String message) throws FormatException;

    /** A problem the space survives (one superblock copy lost); only a check reports it. */
    default void degraded(String code, String message) {
    }

    /** Refuses with a FormatException naming {@code file} and the cause. */
    static Findings refuse(java.nio.file.Path file) {
        return (code, message) -> {
            throw new FormatException(file + ": " + message + " [" + code + "]");
        };
    }

    /** Collects every finding for a check report. */
    final class Collected implements Findings {
        final List<CheckReport.Finding> list = new ArrayList<>();

        @Override
        public void found(String code, String message) {
            list.add(new CheckReport.Finding(code, message));
        }

        @Override
        public void degraded(String code, String message) {
            found(code, message);
        }
    }
}
