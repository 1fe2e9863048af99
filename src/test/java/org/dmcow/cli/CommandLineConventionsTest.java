/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.dmcow.util.Version;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every subcommand's --help and bad options: exit status, first line, the usage line. */
class CommandLineConventionsTest {
    @ParameterizedTest
    @ValueSource(strings = {"format", "check", "info", "status", "version"})
    void helpExitsZeroWithTheUsageAndTheExitStatuses(String command) {
        Ctl r = Ctl.run(command, "--help");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.firstOutLine().startsWith("Usage: dmcowctl " + command + " "), r.toString());
        assertTrue(r.out().contains("Exit status"), r.toString());
        assertEquals("", r.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"format", "check", "info", "status", "version"})
    void aBadOptionIsAUsageErrorNamingIt(String command) {
        // format's required --base given, so that the bad option is what is wrong
        Ctl r = command.equals("format") ? Ctl.run(command, "--base", "b", "--bogus") : Ctl.run(command, "--bogus");
        // check's 2 means corruption: a bad command line is 1 there, as qemu-img check has it
        assertEquals(command.equals("check") ? 1 : 2, r.status(), r.toString());
        assertEquals("dmcowctl " + command + ": Unknown option: '--bogus'", r.firstErrLine(), r.toString());
        assertTrue(r.err().lines().skip(1).findFirst().orElse("").startsWith("Usage: dmcowctl " + command + " "),
                r.toString());
        assertEquals("", r.out());
    }

    @Test
    void theToolItself() {
        Ctl help = Ctl.run("--help");
        assertEquals(0, help.status());
        assertTrue(help.firstOutLine().startsWith("Usage: dmcowctl "), help.toString());
        for (String c : new String[] {"format", "check", "info", "status", "version"}) {
            assertTrue(help.out().contains("\n  " + c + " "), c + " missing in\n" + help);
        }
        assertTrue(help.out().contains("3   check: only leaked clusters; status: a volume is not serving"),
                help.toString());
        Ctl version = Ctl.run("--version");
        assertEquals(0, version.status());
        assertTrue(version.out().startsWith("dmcowctl "), version.toString());
        assertEquals(version.out(), Ctl.run("version").out());
        Ctl none = Ctl.run();
        assertEquals(2, none.status());
        assertTrue(none.firstErrLine().startsWith("Usage: dmcowctl "), none.toString());
        Ctl unknown = Ctl.run("fsck");
        assertEquals(2, unknown.status());
        assertEquals("dmcowctl: Unmatched argument at index 0: 'fsck'", unknown.firstErrLine(), unknown.toString());
    }

    @Test
    void versionAndUsageErrorsAsJson() {
        Config v = ConfigFactory.parseString(Ctl.run("version", "--json").out());
        assertEquals(1, v.getInt("schema"));
        assertEquals(Version.get(), v.getString("version"));
        Ctl bad = Ctl.run("info", "--json", "--bogus");
        assertEquals(2, bad.status());
        assertEquals("", bad.err());
        Config e = ConfigFactory.parseString(bad.out());
        assertEquals(1, e.getInt("schema"));
        assertEquals("Unknown option: '--bogus'", e.getString("error.message"));
    }
}
