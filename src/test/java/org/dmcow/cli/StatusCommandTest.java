/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.dmcow.admin.AdminServer;
import org.dmcow.admin.FixedRequests;
import org.dmcow.admin.VolumeStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dmcowctl status} against a real admin socket: the table, JSON, exit statuses, errors. */
class StatusCommandTest {
    private static final String LONG_NAME = "v".repeat(60) + "-63";
    private static final long CHUNK = 65536;

    @TempDir
    Path dir;

    private static VolumeStatus serving(String name, long usedChunks, long freeChunks) {
        return new VolumeStatus(name, VolumeStatus.State.SERVING, null, 10, 8, 2, usedChunks, freeChunks,
                Instant.parse("2026-11-21T06:00:01.987654321Z"), 3, 4, CHUNK, Path.of("/srv/golden.img"),
                Path.of("/srv/" + name + ".cow"), "native", false);
    }

    private Ctl status(List<VolumeStatus> volumes, String... args) throws Exception {
        Path sock = dir.resolve("run/dmcowd.sock");
        try (AdminServer s = AdminServer.start(sock, FixedRequests.status(volumes).ops())) {
            String[] all = new String[args.length + 3];
            all[0] = "status";
            all[1] = "--socket";
            all[2] = sock.toString();
            System.arraycopy(args, 0, all, 3, args.length);
            return Ctl.run(all);
        }
    }

    @Test
    void aTableWithHumanSizesUsePercentLongNamesAndSeconds() throws Exception {
        // 1250 chunks of 64 KiB = 78.1M used, 3750 free: 25% used
        Ctl r = status(List.of(serving("vm1", 1250, 3750), serving(LONG_NAME, 0, 16)));
        assertEquals(0, r.status(), r.toString());
        List<String> lines = r.out().lines().toList();
        assertEquals(3, lines.size(), r.out());
        String header = lines.get(0);
        assertTrue(header.startsWith("VOLUME" + " ".repeat(LONG_NAME.length() - 6 + 2) + "STATE"), header);
        for (String column : new String[] {"STATE", "LAST-COMMIT"}) {
            int at = header.indexOf(column);
            for (String row : lines.subList(1, 3)) {
                assertTrue(row.charAt(at) != ' ' && row.charAt(at - 1) == ' ', column + " misaligned:\n" + r.out());
            }
        }
        for (String column : new String[] {"USE%", "COW-USED", "SEGS"}) { // numbers: right-aligned
            int end = header.indexOf(column) + column.length() - 1;
            for (String row : lines.subList(1, 3)) {
                assertTrue(row.charAt(end) != ' ' && row.charAt(end + 1) == ' ', column + " misaligned:\n" + r.out());
            }
        }
        String vm1 = lines.get(1);
        assertTrue(vm1.matches("vm1 +serving +10 +8 +2 +78\\.1M +234M +25% +3 +4  2026-11-21T06:00:01Z"), vm1);
        assertTrue(lines.get(2).matches(LONG_NAME + "  serving .* 0 +1M +0% .*"), lines.get(2));
    }

    @Test
    void aVolumeNotServingExitsThreeWithItsReason() throws Exception {
        VolumeStatus degraded = new VolumeStatus("vm2", VolumeStatus.State.DEGRADED, "metadata commit failed: \"EIO\"",
                0, 0, 1, 0, 0,
                null, 0, 0, CHUNK, null, null, null, false);
        Ctl r = status(List.of(serving("vm1", 1, 1), degraded));
        assertEquals(3, r.status(), r.toString());
        assertTrue(r.out().contains("\nvm2     degraded  "), r.out());
        assertTrue(r.out().contains("  0     -        0     0  -\n"), r.out()); // no room: no USE%; no commit
        assertTrue(r.out().contains("\n  vm2: metadata commit failed: \"EIO\"\n"), r.out());
        assertEquals(0, status(List.of()).status());
        assertEquals("no volumes configured\n", status(List.of()).out());
    }

    @Test
    void jsonCarriesTheSchemaTheDeviceAndTheSizes() throws Exception {
        Ctl r = status(List.of(serving("vm1", 12, 100)), "--json");
        assertEquals(0, r.status(), r.toString());
        Config json = ConfigFactory.parseString(r.out());
        assertEquals(1, json.getInt("schema"));
        Config vm1 = json.getConfigList("volumes").get(0);
        assertEquals("vm1", vm1.getString("name"));
        assertEquals("serving", vm1.getString("state"));
        assertEquals("/dev/mapper/vm1", vm1.getString("device"));
        assertEquals(12 * CHUNK, vm1.getLong("cow_used_bytes"));
        assertEquals(100 * CHUNK, vm1.getLong("cow_free_bytes"));
        assertEquals(CHUNK, vm1.getLong("chunk_size"));
        assertEquals(2, vm1.getLong("faults_pending")); // ops/vm/scenarios/e2e-fio.sh greps these two
        assertEquals(3, vm1.getLong("reloads"));
    }

    @Test
    void aSpaceThatGrowsItselfHasNoUsePercent() throws Exception {
        VolumeStatus qcow2 = new VolumeStatus("vm3", VolumeStatus.State.SERVING, null, 10, 8, 0, 40, 0,
                null, 0, 1, CHUNK, Path.of("/srv/golden.img"), Path.of("/srv/vm3.qcow2"), "qcow2", true);
        Ctl r = status(List.of(serving("vm1", 1, 3), qcow2));
        List<String> rows = r.out().lines().toList();
        assertTrue(rows.get(1).contains(" 25% "), r.out());
        assertTrue(rows.get(2).matches("vm3 +serving .* 2.5M +0 +- .*"), r.out());
        Config json = ConfigFactory.parseString(status(List.of(qcow2), "--json").out());
        assertTrue(json.getConfigList("volumes").get(0).getBoolean("cow_grows"));
    }

    @Test
    void anUnreachableDaemonNamesTheSocketAndTheReason() throws Exception {
        Path sock = dir.resolve("none.sock");
        Ctl r = Ctl.run("status", "--socket", sock.toString());
        assertEquals(1, r.status());
        assertEquals("dmcowctl status: " + sock + ": cannot reach dmcowd: no such file or directory (is it running?)",
                r.err().strip());
        Config json = ConfigFactory.parseString(Ctl.run("status", "--json", "--socket", sock.toString()).out());
        assertEquals(sock.toString(), json.getString("error.path"));
        Path conf = dir.resolve("missing.conf");
        Ctl noConf = Ctl.run("status", "--config", conf.toString());
        assertEquals(1, noConf.status());
        assertEquals("dmcowctl status: " + conf + ": no such file or directory", noConf.err().strip());
        Ctl both = Ctl.run("status", "--config", conf.toString(), "--socket", sock.toString());
        assertEquals(2, both.status());
        assertTrue(both.firstErrLine().contains("mutually exclusive"), both.toString());
    }

    @Test
    void theConfigNamesTheSocket() throws Exception {
        Path sock = dir.resolve("run/dmcowd.sock");
        Path conf = Files.writeString(dir.resolve("d.conf"), "dmcow.admin-socket = \"" + sock + "\"");
        try (AdminServer s = AdminServer.start(sock, FixedRequests.status(
                List.of(serving("vm1", 1, 1))).ops())) {
            Ctl r = Ctl.run("status", "--config", conf.toString());
            assertEquals(0, r.status(), r.toString());
            assertTrue(r.out().contains("\nvm1     serving "), r.out());
        }
    }
}
