/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.util;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code %journalPriority} of logback's pattern: a syslog priority prefix ({@code <3>} error,
 * {@code <4>} warning, {@code <6>} info, {@code <7>} debug) when standard output is the journal,
 * so that {@code journalctl -p warning -u dmcowd} finds the warnings; nothing otherwise (a
 * terminal or a file gets the plain lines). systemd says stdout is the journal by
 * {@code JOURNAL_STREAM=DEVICE:INODE} of the stream it connected (sd_journal_stream_fd(3)).
 */
public final class JournalPriority extends ClassicConverter {
    private static final boolean TO_JOURNAL = isJournal(System.getenv("JOURNAL_STREAM"), Path.of("/proc/self/fd/1"));

    /** Whether {@code stdout} is the stream {@code journalStream} ("DEVICE:INODE", decimal) names. */
    static boolean isJournal(String journalStream, Path stdout) {
        if (journalStream == null) {
            return false;
        }
        String[] devIno = journalStream.split(":");
        if (devIno.length != 2) {
            return false;
        }
        try {
            return Long.parseLong(devIno[0]) == ((Number) Files.getAttribute(stdout, "unix:dev")).longValue()
                    && Long.parseLong(devIno[1]) == ((Number) Files.getAttribute(stdout, "unix:ino")).longValue();
        } catch (IOException | NumberFormatException | UnsupportedOperationException e) {
            return false;
        }
    }

    static String prefix(Level level) {
        if (level.isGreaterOrEqual(Level.ERROR)) {
            return "<3>";
        }
        if (level.isGreaterOrEqual(Level.WARN)) {
            return "<4>";
        }
        return level.isGreaterOrEqual(Level.INFO) ? "<6>" : "<7>";
    }

    @Override
    public String convert(ILoggingEvent event) {
        return TO_JOURNAL ? prefix(event.getLevel()) : "";
    }
}
