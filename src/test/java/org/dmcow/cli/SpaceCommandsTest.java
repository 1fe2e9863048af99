/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl format}, {@code check} and {@code info}: operands, exit statuses, messages, JSON. */
class SpaceCommandsTest {
    @TempDir
    Path dir;
    private Path base;
    private Path cow;

    @BeforeEach
    void baseFile() throws Exception {
        base = dir.resolve("base.img");
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            f.setLength(16L << 20);
            f.write("a base".getBytes(StandardCharsets.US_ASCII));
        }
        cow = dir.resolve("vm1.cow");
    }

    private void format(String... extra) {
        String[] args = new String[extra.length + 4];
        args[0] = "format";
        args[1] = "--base";
        args[2] = base.toString();
        System.arraycopy(extra, 0, args, 3, extra.length);
        args[args.length - 1] = cow.toString();
        Ctl r = Ctl.run(args);
        assertEquals(0, r.status(), r.toString());
    }

    private static int count(String text, String part) {
        return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }

    @Test
    void formatThenInfoAndCheckWithTheSpaceAsOperand() throws Exception {
        Ctl f = Ctl.run("format", "--base", base.toString(), "--chunk-size", "64k", cow.toString());
        assertEquals(0, f.status(), f.toString());
        assertTrue(f.out().contains("formatted " + cow + " as native"), f.out());
        Ctl info = Ctl.run("info", "--json", cow.toString());
        assertEquals(0, info.status(), info.toString());
        Config json = ConfigFactory.parseString(info.out());
        assertEquals(1, json.getInt("schema"));
        assertEquals(cow.toString(), json.getString("cow"));
        assertEquals("native", json.getString("format"));
        assertEquals(65536, json.getLong("chunk_size"));
        assertEquals(16L << 20, json.getLong("volume_size"));
        assertEquals(256, json.getLong("free_chunks")); // default size: room for every chunk of the base
        assertEquals(0, json.getLong("used_chunks"));
        assertEquals(0, json.getLong("mappings"));
        assertEquals(0, json.getLong("segments"));
        assertEquals(Files.size(cow), json.getLong("cow_size"));
        assertTrue(json.getIsNull("base"), "a native space records its base's size and identity, not its name");
        assertTrue(json.getIsNull("device"), "no volume serves it");
        Ctl text = Ctl.run("info", cow.toString());
        assertTrue(text.out().contains("device:      (not mapped)\n"), text.out());
        assertTrue(text.out().contains("chunk size:  64K\n"), text.out());
        assertTrue(text.out().contains("volume size: 16M (16777216 bytes)\n"), text.out());
        assertTrue(text.out().contains("free:        16M (16777216 bytes), 256 chunks\n"), text.out());
        Ctl check = Ctl.run("check", cow.toString(), "--base", base.toString());
        assertEquals(0, check.status(), check.toString());
        assertTrue(check.out().contains(cow + ": native, clean"), check.out());
        Config checkJson = ConfigFactory.parseString(Ctl.run("check", "--json", cow.toString()).out());
        assertEquals(1, checkJson.getInt("schema"));
        assertEquals("clean", checkJson.getString("result"));
        assertTrue(checkJson.getIsNull("base"));
    }

    @Test
    void formatJsonAndTheCowOptionOfEarlierScripts() throws Exception {
        Ctl f = Ctl.run("format", "--base", base.toString(), "--cow", cow.toString(), "--size", "32M", "--json");
        assertEquals(0, f.status(), f.toString());
        Config json = ConfigFactory.parseString(f.out());
        assertEquals(1, json.getInt("schema"));
        assertEquals(cow.toString(), json.getString("cow"));
        assertEquals(base.toString(), json.getString("base"));
        assertEquals("native", json.getString("format"));
        assertEquals(32L << 20, json.getLong("cow_size"));
        assertEquals(0, Ctl.run("check", "--cow", cow.toString(), "--base", base.toString()).status());
        assertEquals(0, Ctl.run("info", "--cow=" + cow).status());
        assertEquals(0, Ctl.run("info", "--cow", cow.toString(), cow.toString()).status()); // the same, twice
        Ctl two = Ctl.run("info", "--cow", cow.toString(), base.toString());
        assertEquals(2, two.status());
        assertTrue(two.firstErrLine().startsWith("dmcowctl info: two CoW spaces given"), two.toString());
        Ctl none = Ctl.run("info");
        assertEquals(2, none.status());
        assertEquals("dmcowctl info: Missing required parameter: 'SPACE'", none.firstErrLine(), none.toString());
        Ctl checkNone = Ctl.run("check");
        assertEquals(1, checkNone.status(), checkNone.toString()); // check: as qemu-img, never 2 for usage
    }

    @Test
    void formatRefusesToOverwriteWithoutForce() throws Exception {
        format();
        byte[] before = Files.readAllBytes(cow);
        Ctl again = Ctl.run("format", "--base", base.toString(), "--chunk-size", "4k", cow.toString());
        assertEquals(1, again.status());
        assertTrue(again.err().startsWith("dmcowctl format: " + cow + ": already holds "), again.toString());
        assertTrue(again.err().strip().endsWith("; use --force to overwrite it"), again.toString());
        assertEquals(1, count(again.err(), cow.toString()), again.toString());
        assertArrayEquals(before, Files.readAllBytes(cow));
        Ctl forced = Ctl.run("format", "--base", base.toString(), "--chunk-size", "4k", "--force", cow.toString());
        assertEquals(0, forced.status(), forced.toString());
        assertEquals(4096, ConfigFactory.parseString(Ctl.run("info", "--json", cow.toString()).out())
                .getLong("chunk_size"));
    }

    @Test
    void badValuesAreUsageErrors() {
        Ctl size = Ctl.run("format", "--base", base.toString(), "--chunk-size", "lots", cow.toString());
        assertEquals(2, size.status());
        assertEquals("dmcowctl format: Invalid value for option '--chunk-size': not a size: \"lots\" (expected e.g. "
                + "512, 64k, 1M, 2G)", size.firstErrLine());
        Ctl unknown = Ctl.run("format", "--base", base.toString(), "--format", "vmdk", cow.toString());
        assertEquals(2, unknown.status());
        assertTrue(unknown.firstErrLine().endsWith("unknown CoW format \"vmdk\" (known: native, qcow2)"),
                unknown.toString());
        Ctl noBase = Ctl.run("format", cow.toString());
        assertEquals(2, noBase.status());
        assertEquals("dmcowctl format: Missing required option: '--base=BASE'", noBase.firstErrLine());
        assertFalse(Files.exists(cow));
    }

    @Test
    void fileErrorsNameTheFileOnceWithTheSystemsReason() throws Exception {
        Path missing = dir.resolve("nope.cow");
        for (String command : new String[] {"check", "info"}) {
            Ctl r = Ctl.run(command, missing.toString());
            assertEquals(1, r.status(), r.toString());
            assertEquals("dmcowctl " + command + ": " + missing + ": no such file or directory", r.err().strip());
            Ctl d = Ctl.run(command, dir.toString());
            assertEquals(1, d.status(), d.toString());
            assertEquals("dmcowctl " + command + ": " + dir + ": is a directory", d.err().strip());
        }
        Ctl baseMissing = Ctl.run("format", "--base", missing.toString(), cow.toString());
        assertEquals("dmcowctl format: " + missing + ": no such file or directory", baseMissing.err().strip());
        Ctl cowIsDir = Ctl.run("format", "--base", base.toString(), dir.toString());
        assertEquals(1, cowIsDir.status());
        assertEquals(1, count(cowIsDir.err(), dir.toString()), cowIsDir.toString());
        assertTrue(cowIsDir.err().strip().endsWith(dir + ": is a directory"), cowIsDir.toString());
        Path noDir = dir.resolve("no/such/dir/x.cow");
        Ctl inMissingDir = Ctl.run("format", "--base", base.toString(), noDir.toString());
        assertEquals(1, inMissingDir.status());
        assertEquals("dmcowctl format: " + noDir + ": no such file or directory", inMissingDir.err().strip());
        Ctl tooSmall = Ctl.run("format", "--base", base.toString(), "--size", "64k", cow.toString());
        assertEquals(1, tooSmall.status());
        assertEquals(1, count(tooSmall.err(), cow.toString()), tooSmall.toString());
        assertTrue(tooSmall.err().contains(cow + ": 65536 bytes is too small"), tooSmall.toString());
        assertFalse(Files.exists(cow));
        format();
        Ctl baseIsDir = Ctl.run("check", "--base", dir.toString(), cow.toString());
        assertEquals(1, baseIsDir.status());
        assertEquals("dmcowctl check: " + dir + ": is a directory", baseIsDir.err().strip());
        Ctl foreign = Ctl.run("info", base.toString());
        assertEquals(1, foreign.status());
        assertEquals("dmcowctl info: " + base + ": not a CoW space of a known format (known: native, qcow2)",
                foreign.err().strip());
    }

    @Test
    void errorsAsJsonOnStdout() throws Exception {
        Path missing = dir.resolve("nope.cow");
        Ctl r = Ctl.run("check", "--json", missing.toString());
        assertEquals(1, r.status());
        assertEquals("", r.err());
        Config e = ConfigFactory.parseString(r.out());
        assertEquals(1, e.getInt("schema"));
        assertEquals(missing + ": no such file or directory", e.getString("error.message"));
        assertEquals(missing.toString(), e.getString("error.path"));
        Config foreign = ConfigFactory.parseString(Ctl.run("info", "--json", base.toString()).out());
        assertEquals(base.toString(), foreign.getString("error.path")); // a format's message, its file found
        format();
        Config refused = ConfigFactory.parseString(Ctl.run("format", "--json", "--base", base.toString(),
                cow.toString()).out());
        assertEquals(cow.toString(), refused.getString("error.path"));
    }

    @Test
    void checkExitsTwoForCorruptionAndListsItByCode() throws Exception {
        format();
        try (RandomAccessFile f = new RandomAccessFile(cow.toFile(), "rw")) {
            f.seek(8192 + 4); // the checkpoint header's checksum
            int old = f.read();
            f.seek(8192 + 4);
            f.write(old ^ 1);
        }
        Ctl check = Ctl.run("check", "--json", cow.toString());
        assertEquals(2, check.status(), check.toString());
        Config json = ConfigFactory.parseString(check.out());
        assertFalse(json.getBoolean("clean"));
        assertEquals("corrupt", json.getString("result"));
        assertEquals("bad-checkpoint", json.getConfigList("findings").get(0).getString("code"));
        assertEquals("corruption", json.getConfigList("findings").get(0).getString("kind"));
        Ctl text = Ctl.run("check", cow.toString());
        assertEquals(2, text.status());
        assertTrue(text.out().contains("  bad-checkpoint: no valid checkpoint header"), text.out());
        Ctl info = Ctl.run("info", cow.toString());
        assertEquals(1, info.status());
        assertTrue(info.err().contains(cow + ": no valid checkpoint header"), info.err());
    }

    @Test
    void checkFindsAWrongBase() throws Exception {
        format();
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            f.write("another".getBytes(StandardCharsets.US_ASCII));
        }
        Ctl check = Ctl.run("check", cow.toString(), "--base", base.toString());
        assertEquals(2, check.status());
        assertTrue(check.out().contains("  wrong-base: "), check.out());
    }
}
