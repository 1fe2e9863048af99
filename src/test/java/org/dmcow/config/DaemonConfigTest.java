/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
    void aVolumeWithDefaults() throws Exception {
        VolumeConfig v = parse("dmcow.volumes.vm1 { base = /srv/base.img, cow = /srv/vm1.cow, chunk-size = 128k }")
                .volumes().get("vm1");
        assertEquals(new VolumeConfig("vm1", Path.of("/srv/base.img"), Path.of("/srv/vm1.cow"), "native", 131072), v);
        assertEquals(256, v.chunkSectors());
    }

    @Test
    void everyVolumeRefusalNamesTheKeyAndCause() throws Exception {
        assertTrue(volumeError("{ cow = /c }").endsWith("base is missing"));
        assertTrue(volumeError("{ base = /b }").endsWith("cow is missing"));
        assertTrue(volumeError("{ base = [1], cow = /c }").endsWith("base must be a string"));
        assertTrue(volumeError("{ base = b, cow = /c }").contains("base must be an absolute path"));
        assertTrue(volumeError("{ base = /b, cow = c }").contains("cow must be an absolute path"));
        assertTrue(volumeError("{ base = /b, cow = /b }").contains("base and cow are the same file"));
        assertTrue(volumeError("{ base = /b, cow = /c, chunk-size = 3k }").contains("chunk-size 3k must be a power"));
        assertTrue(volumeError("{ base = /b, cow = /c, chunk-size = 2k }").contains("from 4k to 1G"));
        assertTrue(volumeError("{ base = /b, cow = /c, chunk-size = lots }").contains("chunk-size: not a size"));
        assertTrue(volumeError("{ base = /b, cow = /c, colour = red }").contains("unknown key colour"));
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
    void theShippedSampleLoads() throws Exception {
        DaemonConfig c = DaemonConfig.load(Path.of("conf/dmcowd.conf"));
        assertTrue(c.volumes().isEmpty() && c.volumeErrors().isEmpty());
    }
}
