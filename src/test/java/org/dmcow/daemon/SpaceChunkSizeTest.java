/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A volume is built with its CoW space's chunk size (a qcow2 image's cluster size), not the config's. */
class SpaceChunkSizeTest {
    static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    @TempDir
    Path dir;

    @Test
    void theSpacesChunkSizeBuildsTheDeviceAndServesFaults() throws Exception {
        try (KernelDouble k = new KernelDouble()) {
            DaemonHarness h = new DaemonHarness(KIT, k, dir);
            h.spaces.put("q", new MemoryCowSpace.Durable(4096, DaemonHarness.BASE_SIZE, 64));
            // the config leaves chunk-size at its default, 64k
            h.start(h.volumes("dmcow.commit-interval = 100ms", "q"));
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!h.devices.devices.containsKey("q") || h.devices.devices.get("q").live.isEmpty()) {
                if (System.nanoTime() > end) {
                    throw new AssertionError("no device q");
                }
                Thread.sleep(10);
            }
            List<String> params = h.devices.devices.get("q").live.stream().map(t -> t.params()).toList();
            assertEquals(List.of("q 7:0 7:1 8"), params);
            int q = k.addVolume("q", DaemonHarness.BASE_SECTORS, 8);
            k.write(q, 5, false).get(20, TimeUnit.SECONDS);
            k.flush(q).get(20, TimeUnit.SECONDS);
            assertEquals(4096, h.status("q").chunkSize());
            assertEquals(List.of(5L), List.copyOf(h.spaces.get("q").committedCopy().keySet()));
            h.shutdown();
        }
    }
}
