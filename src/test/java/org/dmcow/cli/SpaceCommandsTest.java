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
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl format}, {@code check} and {@code info} through {@link Dmcowctl#run}. */
class SpaceCommandsTest {
    @TempDir
    Path dir;
    private Path base;
    private Path cow;

    private record Result(int status, String out, String err) {
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Dmcowctl.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @BeforeEach
    void baseFile() throws Exception {
        base = dir.resolve("base.img");
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            f.setLength(16L << 20);
            f.write("a base".getBytes(StandardCharsets.US_ASCII));
        }
        cow = dir.resolve("vm1.cow");
    }

    @Test
    void formatThenInfoAndCheckOfAFreshSpace() throws Exception {
        Result f = run("format", "--base", base.toString(), "--cow", cow.toString(), "--chunk-size", "64k");
        assertEquals(0, f.status(), f.err());
        assertTrue(f.out().contains("formatted " + cow + " as native"), f.out());
        Result info = run("info", cow.toString(), "--json");
        assertEquals(0, info.status(), info.err());
        Config json = ConfigFactory.parseString(info.out());
        assertEquals("native", json.getString("format"));
        assertEquals(65536, json.getLong("chunkSize"));
        assertEquals(16L << 20, json.getLong("volumeSize"));
        assertEquals(256, json.getLong("freeChunks")); // default size: room for every chunk of the base
        assertEquals(0, json.getLong("mappings"));
        assertEquals(0, json.getLong("segments"));
        assertEquals(Files.size(cow), json.getLong("cowSize"));
        Result text = run("info", cow.toString());
        assertTrue(text.out().contains("chunk size:  64k"), text.out());
        Result check = run("check", cow.toString(), "--base", base.toString());
        assertEquals(0, check.status(), check.out() + check.err());
        assertTrue(check.out().contains(": native, clean"), check.out());
    }

    @Test
    void formatRefusesToOverwriteWithoutForce() throws Exception {
        assertEquals(0, run("format", "--base", base.toString(), "--cow", cow.toString()).status());
        byte[] before = Files.readAllBytes(cow);
        Result again = run("format", "--base", base.toString(), "--cow", cow.toString(), "--chunk-size", "4k");
        assertEquals(1, again.status());
        assertTrue(again.err().contains(cow + ": already holds a native CoW space; use --force"), again.err());
        assertArrayEquals(before, Files.readAllBytes(cow));
        Result forced = run("format", "--base", base.toString(), "--cow", cow.toString(), "--chunk-size", "4k",
                "--force");
        assertEquals(0, forced.status(), forced.err());
        assertEquals(4096, ConfigFactory.parseString(run("info", cow.toString(), "--json").out()).getLong("chunkSize"));
    }

    @Test
    void badArgumentsAndMissingFilesSaySo() {
        assertEquals(2, run("format", "--cow", cow.toString()).status());
        Result size = run("format", "--base", base.toString(), "--cow", cow.toString(), "--chunk-size", "lots");
        assertEquals(2, size.status());
        assertTrue(size.err().contains("--chunk-size: not a size"), size.err());
        Result tooSmall = run("format", "--base", base.toString(), "--cow", cow.toString(), "--size", "64k");
        assertEquals(1, tooSmall.status());
        assertTrue(tooSmall.err().contains(cow + ": 65536 bytes is too small"), tooSmall.err());
        assertFalse(Files.exists(cow));
        Result unknown = run("format", "--base", base.toString(), "--cow", cow.toString(), "--format", "vmdk");
        assertEquals(1, unknown.status());
        assertTrue(unknown.err().contains("unknown CoW format \"vmdk\""), unknown.err());
        Result missing = run("check", dir.resolve("nope").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().contains("nope: CoW space not found"), missing.err());
    }

    @Test
    void checkReportsCorruptionByCodeAndInfoRefuses() throws Exception {
        assertEquals(0, run("format", "--base", base.toString(), "--cow", cow.toString()).status());
        try (RandomAccessFile f = new RandomAccessFile(cow.toFile(), "rw")) {
            f.seek(8192 + 4); // the checkpoint header's checksum
            int old = f.read();
            f.seek(8192 + 4);
            f.write(old ^ 1);
        }
        Result check = run("check", cow.toString(), "--json");
        assertEquals(1, check.status(), check.err());
        Config json = ConfigFactory.parseString(check.out());
        assertFalse(json.getBoolean("clean"));
        assertEquals("bad-checkpoint", json.getConfigList("findings").get(0).getString("code"));
        Result text = run("check", cow.toString());
        assertEquals(1, text.status());
        assertTrue(text.out().contains("  bad-checkpoint: no valid checkpoint header"), text.out());
        Result info = run("info", cow.toString());
        assertEquals(1, info.status());
        assertTrue(info.err().contains(cow + ": no valid checkpoint header"), info.err());
    }

    @Test
    void checkFindsAWrongBaseAndRejectsForeignFiles() throws Exception {
        assertEquals(0, run("format", "--base", base.toString(), "--cow", cow.toString()).status());
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            f.write("another".getBytes(StandardCharsets.US_ASCII));
        }
        Result check = run("check", cow.toString(), "--base", base.toString());
        assertEquals(1, check.status());
        assertTrue(check.out().contains("  wrong-base: "), check.out());
        Result foreign = run("info", base.toString());
        assertEquals(1, foreign.status());
        assertTrue(foreign.err().contains(base + ": not a CoW space of a known format (known: native"), foreign.err());
    }
}
