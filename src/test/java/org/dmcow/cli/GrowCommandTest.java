/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.admin.AdminServer;
import org.dmcow.admin.FixedRequests;
import org.dmcow.admin.GrowResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl grow} against an admin socket whose answers are fixed. */
class GrowCommandTest {
    @TempDir
    Path dir;

    /** What the daemon was asked ("NAME SIZE BY"), and the command's outcome. */
    private final List<String> asked = new ArrayList<>();

    private Ctl grow(GrowResult answer, String... args) throws Exception {
        Path sock = dir.resolve("dmcowd.sock");
        FixedRequests daemon = new FixedRequests(List.of(), request -> {
            asked.add(request);
            return answer;
        });
        try (AdminServer s = AdminServer.start(sock, daemon.ops())) {
            List<String> all = new ArrayList<>(List.of("grow", "--socket", sock.toString()));
            all.addAll(List.of(args));
            return Ctl.run(all.toArray(new String[0]));
        }
    }

    @Test
    void growsBySizeOrByAndPrintsTheSizes() throws Exception {
        Ctl r = grow(new GrowResult("vm1", null, 8 << 20, 9 << 20, 16), "vm1", "--by", "1M");
        assertEquals(0, r.status(), r.toString());
        assertEquals("vm1: CoW space 9M, was 8M; 16 chunks free\n", r.out());
        grow(new GrowResult("vm1", null, 8 << 20, 20L << 30, 16), "vm1", "--size", "20G");
        grow(new GrowResult("vm1", null, 8 << 20, 8 << 20, 0), "vm1");
        assertEquals(List.of("vm1 0 1048576", "vm1 21474836480 0", "vm1 0 0"), asked);
    }

    @Test
    void aRefusalExitsOneWithTheDaemonsReason() throws Exception {
        Ctl r = grow(GrowResult.refused("vm9", "no volume vm9 is served"), "vm9", "--by", "1M");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("volume vm9: not grown: no volume vm9 is served"), r.err());
        Ctl json = grow(GrowResult.refused("vm9", "no volume vm9 is served"), "--json", "vm9");
        assertEquals(1, json.status());
        assertEquals(1, json.out().lines().count(), json.out()); // one JSON document: the error
        assertTrue(json.out().contains("\"error\":{\"message\":\"volume vm9: not grown: no volume vm9 is served"),
                json.out());
    }

    @Test
    void sizeAndByTogetherAreABadCommandLine() throws Exception {
        Ctl r = grow(GrowResult.refused("vm1", "unused"), "vm1", "--size", "2G", "--by", "1G");
        assertEquals(2, r.status(), r.toString());
        assertEquals(List.of(), asked);
    }
}
