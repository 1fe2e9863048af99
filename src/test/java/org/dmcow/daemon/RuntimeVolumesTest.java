/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dmcow.admin.AdminServer;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.ReloadResult;
import org.dmcow.admin.VolumeChange;
import org.dmcow.admin.VolumeChange.Outcome;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.cli.Dmcowctl;
import org.dmcow.config.DaemonConfig;
import org.dmcow.config.VolumesDir;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Add, remove and reload through {@link RuntimeVolumes}: the config on disk and the volume set never disagree. */
class RuntimeVolumesTest {
    @TempDir
    Path dir;
    private Path conf;
    private Path volumesDir;
    private final List<DaemonConfig> applied = new ArrayList<>();
    private String busyHolder;
    private RuntimeVolumes runtime;

    private final RuntimeVolumes.Target target = new RuntimeVolumes.Target() {
        @Override
        public void reconfigure(DaemonConfig config) {
            applied.add(config);
        }

        @Override
        public CompletionStage<ShutdownResult> remove(DaemonConfig config, String name) {
            applied.add(config);
            return CompletableFuture.completedFuture(new ShutdownResult(name, busyHolder));
        }

        @Override
        public CompletionStage<List<VolumeStatus>> status(String name) {
            return CompletableFuture.completedFuture(serving().stream().filter(s -> s.name().equals(name)).toList());
        }
    };

    /** Every volume of the last config applied, serving. */
    private List<VolumeStatus> serving() {
        DaemonConfig last = applied.get(applied.size() - 1);
        return last.volumes().keySet().stream().map(n -> new VolumeStatus(n, VolumeStatus.State.SERVING, null, 0, 0,
                0, 0, 0, null, 0, 0, 65536, null, null, "native", false)).toList();
    }

    @BeforeEach
    void setUp() throws Exception {
        volumesDir = dir.resolve("volumes.d");
        conf = Files.writeString(dir.resolve("dmcowd.conf"), "dmcow.volumes-dir = \"" + volumesDir + "\"\n"
                + "dmcow.volumes.golden { base = /srv/a.img, cow = /srv/golden.cow }\n");
        runtime = new RuntimeVolumes(conf, DaemonConfig.load(conf), target);
    }

    private static String volume(String base, String cow) {
        return VolumesDir.text(Path.of(base), Path.of(cow), null, null);
    }

    @Test
    void anAddedVolumeIsServedAndPersistedSoARestartServesIt() throws Exception {
        VolumeChange c = runtime.add("vm1", volume("/srv/a.img", "/srv/vm1.cow"), Duration.ofSeconds(5));
        assertEquals(Outcome.ADDED, c.outcome(), c.toString());
        assertTrue(applied.get(0).volumes().containsKey("vm1"));
        Path file = volumesDir.resolve("vm1.conf");
        assertTrue(Files.readString(file).contains("cow = \"/srv/vm1.cow\""));
        try (var files = Files.list(volumesDir)) {
            assertEquals(List.of(file), files.toList(), "no temporary file left");
        }
        DaemonConfig restarted = DaemonConfig.load(conf);
        assertEquals(List.of("golden", "vm1"), List.copyOf(restarted.volumes().keySet()));
        assertEquals(Path.of("/srv/vm1.cow"), restarted.volumes().get("vm1").cow());
        assertEquals(java.util.Set.of("golden"), restarted.fileVolumes());
    }

    @Test
    void aStrayTemporaryFileIsNoVolume() throws Exception {
        Files.createDirectories(volumesDir);
        Files.writeString(volumesDir.resolve(".vm9.conf.tmp"), "base = /srv/a.img\n");
        Files.writeString(volumesDir.resolve(".vm8.conf"), "base = /srv/a.img\n");
        assertEquals(List.of("golden"), List.copyOf(DaemonConfig.load(conf).volumes().keySet()));
    }

    /** The add refuses what a reload would, with the reload's message; nothing is written or applied. */
    @Test
    void refusalsAreTheReloadsWithItsMessages() throws Exception {
        VolumeChange c = runtime.add("vm1", volume("/srv/a.img", "/srv/golden.cow"), Duration.ZERO);
        assertEquals(Outcome.REFUSED, c.outcome());
        Files.createDirectories(volumesDir);
        Files.writeString(volumesDir.resolve("vm1.conf"), volume("/srv/a.img", "/srv/golden.cow"));
        String reloadSays = DaemonConfig.load(conf).volumeErrors().get("vm1");
        Files.delete(volumesDir.resolve("vm1.conf"));
        assertTrue(reloadSays.contains("is also the CoW space of volume golden"), reloadSays);
        assertEquals(reloadSays, c.message());

        VolumeChange relative = runtime.add("vm2", volume("srv/a.img", "/srv/vm2.cow"), Duration.ZERO);
        assertEquals(Outcome.REFUSED, relative.outcome());
        assertTrue(relative.message().endsWith("volume vm2: base must be an absolute path, not srv/a.img"),
                relative.message());
        assertEquals(Outcome.REFUSED, runtime.add("golden", volume("/srv/a.img", "/srv/x.cow"), Duration.ZERO)
                .outcome());
        assertEquals(Outcome.REFUSED, runtime.add("bad/name", volume("/srv/a.img", "/srv/x.cow"), Duration.ZERO)
                .outcome());
        assertTrue(applied.isEmpty());
        assertFalse(Files.exists(volumesDir.resolve("vm2.conf")));
    }

    @Test
    void removeDeletesTheConfOnlyOnceTheVolumeIsGone() throws Exception {
        runtime.add("vm1", volume("/srv/a.img", "/srv/vm1.cow"), Duration.ZERO);
        busyHolder = "/dev/mapper/vm1 is mounted on /mnt/vm1";
        VolumeChange busy = runtime.remove("vm1");
        assertEquals(Outcome.BUSY, busy.outcome());
        assertTrue(busy.message().contains("mounted on /mnt/vm1"), busy.message());
        assertTrue(Files.exists(volumesDir.resolve("vm1.conf")));
        busyHolder = null;
        assertEquals(Outcome.REMOVED, runtime.remove("vm1").outcome());
        assertFalse(Files.exists(volumesDir.resolve("vm1.conf")));
        assertFalse(applied.get(applied.size() - 1).volumes().containsKey("vm1"));
        assertEquals(Outcome.REFUSED, runtime.remove("vm1").outcome());
    }

    @Test
    void aVolumeOfTheConfigFileIsNotRemovedThroughTheApi() throws Exception {
        VolumeChange c = runtime.remove("golden");
        assertEquals(Outcome.REFUSED, c.outcome());
        assertTrue(c.message().contains("is defined in the config file " + conf), c.message());
        assertTrue(applied.isEmpty());
    }

    @Test
    void reloadSaysWhatChanged() throws Exception {
        Files.createDirectories(volumesDir);
        Files.writeString(volumesDir.resolve("vm3.conf"), volume("/srv/a.img", "/srv/vm3.cow"));
        Files.writeString(volumesDir.resolve("golden.conf"), volume("/srv/a.img", "/srv/g2.cow"));
        Files.writeString(conf, "dmcow.volumes-dir = \"" + volumesDir + "\"\n");
        ReloadResult r = runtime.reload();
        assertNull(r.error());
        assertEquals(List.of("vm3"), r.added());
        assertEquals(List.of(), r.removed(), "golden is refused, not removed: it keeps running as it was");
        assertTrue(r.refused().isEmpty(), r.refused().toString());
        Files.writeString(conf, "dmcow.volumes-dir = \"" + volumesDir + "\"\n"
                + "dmcow.volumes.golden { base = /srv/a.img, cow = /srv/golden.cow }\n");
        ReloadResult both = runtime.reload();
        assertTrue(both.refused().get("golden").contains("already defined in the main config file"),
                both.refused().toString());
        Files.writeString(conf, "dmcow { nonsense = 1 }\n");
        assertTrue(runtime.reload().error().contains("nothing changed"));
    }

    /** dmcowctl add/remove/list/reload against the daemon's ops over a real socket: exit codes. */
    @Test
    void dmcowctlExitCodes() throws Exception {
        Path sock = dir.resolve("dmcowd.sock");
        DaemonAdmin.Daemon daemon = new DaemonAdmin.Daemon() {
            @Override
            public CompletionStage<List<VolumeStatus>> status() {
                return CompletableFuture.completedFuture(serving());
            }

            @Override
            public CompletionStage<GrowResult> grow(String name, long size, long by) {
                return CompletableFuture.completedFuture(GrowResult.refused(name, "no"));
            }

            @Override
            public CompletionStage<String> metrics() {
                return CompletableFuture.completedFuture("");
            }

            @Override
            public ReloadResult reload() {
                return runtime.reload();
            }
        };
        applied.add(DaemonConfig.load(conf));
        try (AdminServer s = AdminServer.start(sock, DaemonAdmin.ops(daemon, runtime))) {
            String[] add = {"add", "vm1", "--base", "/srv/a.img", "--cow", "/srv/vm1.cow", "--wait", "--socket",
                sock.toString()};
            assertEquals(0, ctl(add));
            assertEquals(3, ctl(add), "exists already");
            String list = out("list", "--socket", sock.toString());
            assertTrue(list.contains("golden") && list.contains("config") && list.contains("vm1.conf"), list);
            assertEquals(3, ctl("remove", "golden", "--socket", sock.toString()));
            busyHolder = "/dev/mapper/vm1 is mounted on /mnt";
            assertEquals(4, ctl("remove", "vm1", "--socket", sock.toString()));
            busyHolder = null;
            assertEquals(0, ctl("remove", "vm1", "--socket", sock.toString(), "--json"));
            assertEquals(0, ctl("reload", "--socket", sock.toString()));
            Files.writeString(volumesDir.resolve("vm5.conf"), volume("/srv/a.img", "/srv/golden.cow"));
            assertEquals(3, ctl("reload", "--socket", sock.toString()));
        }
    }

    private static int ctl(String... args) {
        return Dmcowctl.run(args, new PrintStream(new ByteArrayOutputStream()), new PrintStream(new ByteArrayOutputStream()));
    }

    private static String out(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        Dmcowctl.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), System.err);
        return o.toString(StandardCharsets.UTF_8);
    }
}
