/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Log lines carry syslog priorities exactly when stdout is the stream JOURNAL_STREAM names. */
class JournalPriorityTest {
    private static String devIno(Path p) throws Exception {
        return Files.getAttribute(p, "unix:dev") + ":" + Files.getAttribute(p, "unix:ino");
    }

    @Test
    void theJournalIsTheStreamJournalStreamNames(@TempDir Path dir) throws Exception {
        Path out = Files.createFile(dir.resolve("out"));
        Path other = Files.createFile(dir.resolve("other"));
        assertTrue(JournalPriority.isJournal(devIno(out), out));
        assertFalse(JournalPriority.isJournal(devIno(other), out));
        assertFalse(JournalPriority.isJournal(null, out));
        assertFalse(JournalPriority.isJournal("garbage", out));
        assertFalse(JournalPriority.isJournal("1:x", out));
    }

    @Test
    void prioritiesAreSyslogs() {
        assertEquals("<3>", JournalPriority.prefix(Level.ERROR));
        assertEquals("<4>", JournalPriority.prefix(Level.WARN));
        assertEquals("<6>", JournalPriority.prefix(Level.INFO));
        assertEquals("<7>", JournalPriority.prefix(Level.DEBUG));
    }

    /** dmcowd's own logback configuration, in a JVM whose stdout is a file named as the journal, and one not. */
    @Test
    void dmcowdsErrorsArePriorityThreeInTheJournalAndPlainElsewhere(@TempDir Path dir) throws Exception {
        Path journal = Files.createFile(dir.resolve("journal"));
        assertEquals("<3>ERROR", firstWord(dir, journal, devIno(journal)));
        Path plain = Files.createFile(dir.resolve("plain"));
        assertEquals("ERROR", firstWord(dir, plain, devIno(journal)));
    }

    private static String firstWord(Path dir, Path stdout, String journalStream) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "org.dmcow.daemon.Dmcowd", "--config", dir.resolve("no-such.conf").toString());
        pb.environment().put("JOURNAL_STREAM", journalStream);
        pb.redirectOutput(stdout.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String text = Files.readString(stdout, StandardCharsets.UTF_8);
        return text.lines().filter(l -> l.contains("ERROR")).findFirst().orElse("(no ERROR line in: " + text + ")")
                .split(" ")[0];
    }
}
