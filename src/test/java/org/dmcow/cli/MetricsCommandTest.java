/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.dmcow.admin.AdminServer;
import org.dmcow.admin.FixedRequests;
import org.dmcow.admin.PrometheusText;
import org.dmcow.admin.VolumeStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl metrics} against a real admin socket. */
class MetricsCommandTest {
    @TempDir
    Path dir;

    @Test
    void printsTheDaemonsText() throws Exception {
        Path sock = dir.resolve("dmcowd.sock");
        VolumeStatus vm1 = new VolumeStatus("vm1", VolumeStatus.State.FULL, "full", 1, 1, 0, 4, 0, null, 0, 1, 65536,
                null, null, "native", false);
        try (AdminServer s = AdminServer.start(sock, FixedRequests.status(List.of(vm1)).ops())) {
            Ctl r = Ctl.run("metrics", "--socket", sock.toString());
            assertEquals(0, r.status(), r.toString());
            PrometheusText p = PrometheusText.parse(r.out());
            assertEquals(1, p.value("dmcow_volume_state", "volume", "vm1", "state", "full"));
            assertEquals(4 * 65536, p.value("dmcow_volume_cow_used_bytes", "volume", "vm1"));
        }
    }

    @Test
    void noDaemonIsExitOneNamingTheSocket() {
        Path sock = dir.resolve("none.sock");
        Ctl r = Ctl.run("metrics", "--socket", sock.toString());
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains(sock.toString()) && r.err().contains("cannot reach dmcowd"), r.err());
    }
}
