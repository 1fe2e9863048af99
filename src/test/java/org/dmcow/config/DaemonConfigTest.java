/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonConfigTest {
    private static DaemonConfig parse(String hocon) throws ConfigException {
        return DaemonConfig.from("test.conf", ConfigFactory.parseString(hocon));
    }

    private static String volumeError(String volume) throws ConfigException {
        DaemonConfig c = parse("dmcow.volumes.good { base = /b, cow = /c }\ndmcow.volumes.bad " + volume);
        assertTrue(c.volumes().containsKey("good"), "the good volume next to a bad one starts");
        String e = c.volumeErrors().get("bad");
        assertTrue(e != null && e.startsWith("test.conf: volume bad: "), String.valueOf(e));
        return e;
    }

    @Test
    void defaultsComeFromTheJar() throws Exception {
        DaemonConfig c = parse("");
        assertEquals(Path.of("/dev/dm-cow"), c.controlDevice());
        assertEquals(Duration.ofSeconds(1), c.commitInterval());
        assertEquals(Path.of("/run/dmcow/dmcowd.sock"), c.adminSocket());
        assertTrue(c.volumes().isEmpty());
    }

    @Test
    void theMetricsListenerIsOffByDefaultAndItsAddressIsChecked() throws Exception {
        assertNull(parse("").metricsListen());
        assertEquals(new InetSocketAddress("127.0.0.1", 9567),
                parse("dmcow.metrics.listen = \"127.0.0.1:9567\"").metricsListen());
        assertEquals(9567, parse("dmcow.metrics.listen = \"[::1]:9567\"").metricsListen().getPort());
        for (String bad : new String[] {"9567", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "localhost:http"}) {
            String m = assertThrows(ConfigException.class, () -> parse("dmcow.metrics.listen = \"" + bad + "\""))
                    .getMessage();
            assertTrue(m.contains("dmcow.metrics.listen = \"" + bad + "\""), m);
        }
    }

    @Test
    void aVolumeWithDefaults() throws Exception {
        VolumeConfig v = parse("dmcow.volumes.vm1 { base = /srv/base.img, cow = /srv/vm1.cow, chunk-size = 128k }")
                .volumes().get("vm1");
        assertEquals(new VolumeConfig("vm1", Path.of("/srv/base.img"), Path.of("/srv/vm1.cow"), "native", 131072,
                SpacePolicy.DEFAULTS), v);
        assertEquals(256, v.chunkSectors());
    }

    @Test
    void theNoSpacePolicyIsDaemonWideAndAVolumeMaySetItsOwn() throws Exception {
        DaemonConfig c = parse("dmcow.no-space = queue\ndmcow.space-warnings = [70]\n"
                + "dmcow.autoextend { threshold = 80, max = 20G }\n"
                + "dmcow.volumes.a { base = /a, cow = /ca }\n"
                + "dmcow.volumes.b { base = /b, cow = /cb, no-space = error, no-space-timeout = 10s, "
                + "autoextend { percent = 50 } }");
        SpacePolicy.Autoextend daemonWide = new SpacePolicy.Autoextend(80, 20, 20L << 30);
        assertEquals(new SpacePolicy(SpacePolicy.NoSpace.QUEUE, Duration.ofSeconds(60), List.of(70), daemonWide),
                c.volumes().get("a").space());
        assertEquals(new SpacePolicy(SpacePolicy.NoSpace.ERROR, Duration.ofSeconds(10), List.of(70),
                new SpacePolicy.Autoextend(80, 50, 20L << 30)), c.volumes().get("b").space());
        assertTrue(volumeError("{ base = /b, cow = /c, autoextend { threshold = 0 } }").endsWith(
                "volume bad: autoextend.threshold must be a percentage from 1 to 100 (100: off), not 0"));
        assertTrue(volumeError("{ base = /b, cow = /c, autoextend { max = lots } }").contains(
                "volume bad: autoextend.max: not a size"));
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.autoextend.percent = 0")).getMessage()
                .endsWith("dmcow.autoextend.percent must be from 1 to 1000, not 0"));
        assertTrue(volumeError("{ base = /b, cow = /c, no-space = wait }").endsWith(
                "volume bad: no-space must be queue or error, not wait"));
        assertTrue(volumeError("{ base = /b, cow = /c, no-space-timeout = -1s }").endsWith(
                "volume bad: no-space-timeout must not be negative, not PT-1S"));
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.no-space = never")).getMessage()
                .endsWith("test.conf: dmcow.no-space must be queue or error, not never"));
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.space-warnings = [80, 100]")).getMessage()
                .endsWith("dmcow.space-warnings: 100 is not a percentage from 1 to 99"));
    }

    @Test
    void everyVolumeRefusalNamesTheKeyAndCause() throws Exception {
        assertTrue(volumeError("{ cow = /c }").endsWith("base is missing"));
        assertTrue(volumeError("{ base = /b }").endsWith("cow is missing"));
        assertTrue(volumeError("{ base = [1], cow = /c }").endsWith("base must be a string"));
        assertTrue(volumeError("{ base = b, cow = /c }").contains("base must be an absolute path"));
        assertTrue(volumeError("{ base = /b, cow = c }").contains("cow must be an absolute path"));
        assertTrue(volumeError("{ base = /b3, cow = /b3 }").endsWith("volume bad: cow /b3 is its own base /b3 (the "
                + "same file); a base is never written"));
        assertTrue(volumeError("{ base = /b3, cow = /b }").endsWith("volume bad: cow /b is the base of volume good, /b "
                + "(the same file); a base is never written"));
        assertTrue(volumeError("{ base = /b, cow = /c, chunk-size = 3k }").contains("chunk-size 3k must be a power"));
        assertTrue(volumeError("{ base = /b, cow = /c, chunk-size = 2k }").contains("from 4k to 1G"));
        assertTrue(volumeError("{ base = /b, cow = /c, chunk-size = lots }").contains("chunk-size: not a size"));
        assertTrue(volumeError("{ base = /b2, cow = /c2, chunk-sise = 64k }").endsWith(
                "volume bad: chunk-sise: unknown key; did you mean chunk-size?"));
        assertTrue(volumeError("{ base = /b2, cow = /c2, colour = red }").endsWith(
                "colour: unknown key; the known ones are base, cow, format, chunk-size, no-space, no-space-timeout, "
                + "autoextend"));
        assertTrue(volumeError("= 5").contains("must be an object"));
        DaemonConfig c = parse("dmcow.volumes { \"a/b\" { base = /b, cow = /c } }");
        assertTrue(c.volumeErrors().get("a/b").contains("the name must be"));
    }

    @Test
    void daemonWideErrorsRefuseTheFile(@TempDir Path tmp) throws Exception {
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.commit-interval = 0s")).getMessage()
                .contains("dmcow.commit-interval must be positive"));
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.reload.max-mappings = 0")).getMessage()
                .contains("dmcow.reload.max-mappings must be at least 1"));
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.commit-interval = soon")).getMessage()
                .startsWith("test.conf: "));
        Path broken = Files.writeString(tmp.resolve("broken.conf"), "dmcow { volumes { ");
        assertTrue(assertThrows(ConfigException.class, () -> DaemonConfig.load(broken)).getMessage()
                .startsWith(broken.toString()));
        assertTrue(assertThrows(ConfigException.class, () -> DaemonConfig.load(tmp.resolve("none.conf")))
                .getMessage().contains("cannot read"));
    }

    @Test
    void anUnknownDaemonKeyRefusesTheFileNamingTheNearestKnownOne() throws Exception {
        assertEquals("test.conf: dmcow.commit-intervall: unknown key; did you mean dmcow.commit-interval?",
                assertThrows(ConfigException.class, () -> parse("dmcow.commit-intervall = 2s")).getMessage());
        assertEquals("test.conf: dmcow.reload.max-delya: unknown key; did you mean dmcow.reload.max-delay?",
                assertThrows(ConfigException.class, () -> parse("dmcow.reload { max-delya = 2s }")).getMessage());
        assertTrue(assertThrows(ConfigException.class, () -> parse("dmcow.colour = red")).getMessage()
                .startsWith("test.conf: dmcow.colour: unknown key; the known ones are dmcow.admin-socket, "));
        // settings outside dmcow belong to the actor system
        parse("pekko.loglevel = DEBUG");
    }

    @Test
    void volumesOnOneCowSpaceAreBothRefusedNamingEachOther() throws Exception {
        DaemonConfig c = parse("dmcow.volumes { a { base = /g, cow = /srv/a.cow }, b { base = /g, cow = /srv/./a.cow }"
                + ", c { base = /g, cow = /srv/c.cow } }");
        assertEquals(java.util.Set.of("c"), c.volumes().keySet());
        assertEquals("test.conf: volume a: cow /srv/a.cow is also the CoW space of volume b, /srv/./a.cow (the same "
                + "file); two volumes never share a CoW space", c.volumeErrors().get("a"));
        assertTrue(c.volumeErrors().get("b").startsWith("test.conf: volume b: cow /srv/./a.cow is also the CoW "
                + "space of volume a"), c.volumeErrors().get("b"));
    }

    @Test
    void conflictsAreFoundHoweverTheFilesAreNamed(@TempDir Path tmp) throws Exception {
        Path golden = Files.write(tmp.resolve("golden.img"), new byte[4096]);
        Path cow = Files.write(tmp.resolve("a.cow"), new byte[4096]);
        Path cowLink = Files.createSymbolicLink(tmp.resolve("b.cow"), cow);
        Path goldenLink = Files.createLink(tmp.resolve("golden-hard.img"), golden);
        DaemonConfig c = parse("dmcow.volumes { a { base = \"" + golden + "\", cow = \"" + cow + "\" }, "
                + "b { base = \"" + golden + "\", cow = \"" + cowLink + "\" }, "
                + "c { base = \"" + tmp.resolve("other.img") + "\", cow = \"" + goldenLink + "\" }, "
                + "d { base = \"" + golden + "\", cow = \"" + tmp.resolve("d.cow") + "\" } }");
        // d reads the base c would write: c is refused, not d
        assertEquals(java.util.Set.of("d"), c.volumes().keySet());
        assertTrue(c.volumeErrors().get("b").contains("volume b: cow " + cowLink + " is also the CoW space of volume "
                + "a, " + cow + " (the same file)"), c.volumeErrors().get("b"));
        assertTrue(c.volumeErrors().get("c").contains("volume c: cow " + goldenLink + " is the base of volume a, "
                + golden + " (the same file); a base is never written"), c.volumeErrors().get("c"));
    }

    @Test
    void aVolumeOnOneOfTheDaemonsOwnDevicesIsRefused() throws Exception {
        DaemonConfig c = parse("dmcow.volumes { a { base = /g, cow = /srv/a.cow }, "
                + "b { base = /dev/mapper/a, cow = /srv/b.cow }, c { base = /g, cow = /dev/mapper/c } }");
        assertEquals("test.conf: volume b: base /dev/mapper/a is the device of volume a, served by this daemon; "
                + "a volume never sits on one of dmcowd's own devices", c.volumeErrors().get("b"));
        assertTrue(c.volumeErrors().get("c").contains("cow /dev/mapper/c is the device of volume c"));
        assertTrue(c.volumes().containsKey("a"));
    }

    @Test
    void theShippedSampleLoads() throws Exception {
        DaemonConfig c = DaemonConfig.load(Path.of("conf/dmcowd.conf"));
        assertTrue(c.volumes().isEmpty() && c.volumeErrors().isEmpty());
    }
}
