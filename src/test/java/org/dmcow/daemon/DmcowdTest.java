/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.dmcow.config.DaemonConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DmcowdTest {
    private static final String THROUGHPUT = "pekko.actor.default-dispatcher.throughput";

    @AfterEach
    void clearProperty() {
        System.clearProperty(THROUGHPUT);
        ConfigFactory.invalidateCaches();
    }

    private static Config actorSystemConfig(String file) throws Exception {
        return Dmcowd.actorSystemConfig(DaemonConfig.from("test.conf", ConfigFactory.parseString(file)));
    }

    @Test
    void theDaemonsSchedulingWinsOverPekkosDefaultsAndTheConfigFile() throws Exception {
        Config c = actorSystemConfig(THROUGHPUT + " = 7");
        assertEquals(64, c.getInt(THROUGHPUT));
        assertEquals(Duration.ofMillis(100), c.getDuration("pekko.scheduler.tick-duration"));
        assertEquals(1, c.getInt("pekko.actor.default-dispatcher.fork-join-executor.parallelism-max"));
        assertEquals(64, c.getInt("dmcow-allocator-dispatcher.throughput"));
    }

    @Test
    void aSystemPropertyStillOverridesIt() throws Exception {
        System.setProperty(THROUGHPUT, "5");
        ConfigFactory.invalidateCaches();
        assertEquals(5, actorSystemConfig("").getInt(THROUGHPUT));
    }

    @Test
    void checkConfigSaysWhatAStartWouldRefuseWithoutStarting(@TempDir Path tmp) throws Exception {
        Path good = Files.writeString(tmp.resolve("good.conf"),
                "dmcow.volumes.vm1 { base = /srv/golden.img, cow = /srv/vm1.cow }\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, Dmcowd.checkConfig(good, new PrintStream(out, true), new PrintStream(err, true)));
        assertEquals(good + ": valid, 1 volume(s)\n", out.toString());

        Path typo = Files.writeString(tmp.resolve("typo.conf"), "dmcow.volumes.vm1 { base = /srv/golden.img, "
                + "cow = /srv/vm1.cow, chunk-sise = 64k }\ndmcow.volumes.vm2 { base = /srv/golden.img, cow = /srv/vm2.cow }\n");
        err.reset();
        assertEquals(2, Dmcowd.checkConfig(typo, new PrintStream(out, true), new PrintStream(err, true)));
        assertTrue(err.toString().startsWith(typo + ": volume vm1: chunk-sise: unknown key; did you mean chunk-size?\n"
                + typo + ": 1 of 2 volume(s) refused"), err.toString());

        Path broken = Files.writeString(tmp.resolve("broken.conf"), "dmcow.max-in-flite = 5\n");
        err.reset();
        assertEquals(2, Dmcowd.checkConfig(broken, new PrintStream(out, true), new PrintStream(err, true)));
        assertTrue(err.toString().contains("dmcow.max-in-flite: unknown key; did you mean dmcow.max-in-flight?"),
                err.toString());
    }
}
