/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.dmcow.cli.Dmcowctl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminServerTest {
    private static final List<VolumeStatus> VOLUMES = List.of(
            new VolumeStatus("vm1", "serving", null, 10, 8, 2, 12, 100, Instant.parse("2026-11-21T06:00:00Z"), 3, 4,
                    65536),
            new VolumeStatus("vm2", "degraded", "metadata commit failed: \"EIO\"", 0, 0, 1, 0, 0, null, 0, 0, 65536));

    private static String ctl(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Dmcowctl.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return status + "\n" + out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void statusOverTheSocket(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("run/dmcowd.sock");
        try (AdminServer s = AdminServer.start(sock, () -> CompletableFuture.completedFuture(VOLUMES))) {
            String json = ctl("status", "--json", "--socket", sock.toString());
            assertTrue(json.startsWith("0\n{\"volumes\":[{\"name\":\"vm1\",\"state\":\"serving\",\"reason\":null,"),
                    json);
            assertTrue(json.contains("\"cow_used_bytes\":786432"), json);
            assertTrue(json.contains("\"last_commit\":\"2026-11-21T06:00:00Z\""), json);
            assertTrue(json.contains("\"reason\":\"metadata commit failed: \\\"EIO\\\"\""), json);
            Path conf = java.nio.file.Files.writeString(dir.resolve("d.conf"), "dmcow.admin-socket = \"" + sock + "\"");
            String text = ctl("status", "--config", conf.toString());
            assertTrue(text.contains("vm2              degraded"), text);
            assertTrue(text.contains("vm2: metadata commit failed"), text);
        }
        String down = ctl("status", "--socket", sock.toString());
        assertTrue(down.startsWith("1\n") && down.contains("cannot reach dmcowd at " + sock), down);
        assertEquals('2', ctl("status", "--bogus").charAt(0));
    }
}
