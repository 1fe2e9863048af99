/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin socket's protocol; dmcowctl's rendering of it is tested in org.dmcow.cli.StatusCommandTest. */
class AdminServerTest {
    private static final List<VolumeStatus> VOLUMES = List.of(
            new VolumeStatus("vm1", VolumeStatus.State.SERVING, null, 10, 8, 2, 12, 100,
                    Instant.parse("2026-11-21T06:00:00Z"), 3, 4,
                    65536, Path.of("/srv/golden.img"), Path.of("/srv/vm1.qcow2"), "qcow2", true),
            new VolumeStatus("vm2", VolumeStatus.State.DEGRADED, "metadata commit failed: \"EIO\"", 0, 0, 1, 0, 0,
                    null, 0, 0, 65536,
                    null, null, null, false));

    @Test
    void statusOverTheSocket(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("run/dmcowd.sock");
        try (AdminServer s = AdminServer.start(sock, FixedRequests.status(VOLUMES).ops())) {
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(sock)));
            String json = AdminClient.statusJson(sock);
            assertTrue(json.startsWith("{\"schema\":1,\"volumes\":[{\"name\":\"vm1\",\"state\":\"serving\","
                    + "\"reason\":null,\"device\":\"/dev/mapper/vm1\","), json);
            assertTrue(json.contains("\"device\":\"/dev/mapper/vm1\",\"base\":\"/srv/golden.img\","
                    + "\"cow\":\"/srv/vm1.qcow2\",\"format\":\"qcow2\","), json);
            assertTrue(json.contains("\"cow_used_bytes\":786432"), json);
            assertTrue(json.contains("\"last_commit\":\"2026-11-21T06:00:00Z\""), json);
            assertTrue(json.contains("\"reason\":\"metadata commit failed: \\\"EIO\\\"\""), json);
            assertTrue(AdminClient.ask(sock, "status-json").contains("\"error\":\"the request is not a JSON object"));
            assertTrue(AdminClient.ask(sock, "{\"op\":\"nope\"}").contains("\"error\":\"unknown op \\\"nope\\\"; known: "
                    + "[grow, metrics, status]\""));
            assertTrue(AdminClient.ask(sock, "{\"op\":\"grow\"}").contains("\"error\":\"op grow: bad request: "));
        }
        assertTrue(Files.notExists(sock));
    }

    /**
     * A slow op (an add waiting for its device) holds only its own connection: a status asked
     * meanwhile is answered. Fails with the old server's one thread for all connections.
     */
    @Test
    void aSlowRequestDoesNotHoldUpStatus(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("dmcowd.sock");
        CountDownLatch release = new CountDownLatch(1);
        Map<String, AdminServer.Op> ops = new HashMap<>(FixedRequests.status(VOLUMES).ops());
        ops.put("slow", r -> {
            release.await();
            return "{\"slow\":true}\n";
        });
        try (AdminServer s = AdminServer.start(sock, ops)) {
            CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return AdminClient.ask(sock, AdminClient.request("slow"));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            String status = CompletableFuture.supplyAsync(() -> {
                try {
                    return AdminClient.statusJson(sock);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).get(10, TimeUnit.SECONDS);
            assertTrue(status.contains("\"name\":\"vm1\""), status);
            assertFalse(slow.isDone());
            release.countDown();
            assertEquals("{\"slow\":true}\n", slow.get(10, TimeUnit.SECONDS));
        }
    }
}
