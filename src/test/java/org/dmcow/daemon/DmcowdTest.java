/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.dmcow.config.DaemonConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

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
        assertEquals(2, c.getInt("pekko.actor.default-dispatcher.fork-join-executor.parallelism-min"));
        assertEquals(64, c.getInt("dmcow-allocator-dispatcher.throughput"));
    }

    @Test
    void aSystemPropertyStillOverridesIt() throws Exception {
        System.setProperty(THROUGHPUT, "5");
        ConfigFactory.invalidateCaches();
        assertEquals(5, actorSystemConfig("").getInt(THROUGHPUT));
    }
}
