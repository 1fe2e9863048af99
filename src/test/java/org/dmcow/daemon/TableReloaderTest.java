/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dmcow.config.SpacePolicy;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.Runs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The table reloader alone: a probe stands in for its volume, fake devices for dm and loop. */
class TableReloaderTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final long CHUNK = 64 << 10;
    private static final long BASE_SECTORS = 2048;

    @TempDir
    Path dir;
    private final FakeDevices devices = new FakeDevices();
    private final TestProbe<TableReloader.Reply> owner = KIT.createTestProbe();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private VolumeConfig config() throws IOException {
        for (String f : List.of("base.img", "vm1.cow")) {
            try (RandomAccessFile r = new RandomAccessFile(dir.resolve(f).toFile(), "rw")) {
                r.setLength(BASE_SECTORS * 512);
            }
        }
        return new VolumeConfig("vm1", dir.resolve("base.img"), dir.resolve("vm1.cow"), "native", CHUNK,
                SpacePolicy.DEFAULTS);
    }

    private ActorRef<TableReloader.Command> reloader(VolumeConfig config) {
        return KIT.spawn(TableReloader.create(config, devices, devices, owner.getRef()));
    }

    /** A reloader whose volume's devices are attached and whose dm device serves an empty table. */
    private ActorRef<TableReloader.Command> active() throws IOException {
        ActorRef<TableReloader.Command> r = reloader(config());
        r.tell(TableReloader.Attach.INSTANCE);
        owner.expectMessageClass(TableReloader.DevicesAttached.class);
        r.tell(new TableReloader.Activate(List.of(), false));
        owner.expectMessageClass(TableReloader.Reloaded.class);
        return r;
    }

    @Test
    void attachingFileBackedDevicesGivesTheLayoutAndTheCowLoop() throws IOException {
        reloader(config()).tell(TableReloader.Attach.INSTANCE);
        TableReloader.DevicesAttached m = owner.expectMessageClass(TableReloader.DevicesAttached.class);
        assertEquals(BASE_SECTORS, m.layout().volumeSectors());
        assertEquals(devices.loops.get(dir.resolve("vm1.cow")).device(), m.cowLoop());
        assertEquals(devices.loops.get(dir.resolve("base.img")).majorMinor(), m.layout().baseDev());
    }

    @Test
    void aMissingBaseFailsTheAttachNamingTheFile() throws IOException {
        VolumeConfig c = config();
        VolumeConfig missing = new VolumeConfig(c.name(), dir.resolve("gone.img"), c.cow(), c.format(), CHUNK,
                SpacePolicy.DEFAULTS);
        reloader(missing).tell(TableReloader.Attach.INSTANCE);
        String reason = owner.expectMessageClass(TableReloader.DevicesFailed.class).reason();
        assertTrue(reason.contains(dir.resolve("gone.img") + ": no such file"), reason);
    }

    @Test
    void activationCreatesTheDeviceAndIsNotCountedAsAReload() throws IOException {
        ActorRef<TableReloader.Command> r = reloader(config());
        r.tell(TableReloader.Attach.INSTANCE);
        owner.expectMessageClass(TableReloader.DevicesAttached.class);
        r.tell(new TableReloader.Activate(List.of(new Runs.Run(0, 1, 0)), false));
        TableReloader.Reloaded m = owner.expectMessageClass(TableReloader.Reloaded.class);
        assertEquals(new TableReloader.Reloaded(List.of(), 1, TableReloader.Swap.CREATED), m);
        assertEquals(2, devices.devices.get("vm1").live.size());
    }

    @Test
    void activationOverAnExistingDeviceAdoptsItAndSaysItWasNotCreated() throws IOException {
        active();
        // a restarted daemon's reloader: the device (and the kernel volume, with its grants) lives on
        ActorRef<TableReloader.Command> again = reloader(config());
        again.tell(TableReloader.Attach.INSTANCE);
        owner.expectMessageClass(TableReloader.DevicesAttached.class);
        again.tell(new TableReloader.Activate(List.of(new Runs.Run(0, 1, 0)), false));
        assertEquals(new TableReloader.Reloaded(List.of(), 1, TableReloader.Swap.ADOPTED),
                owner.expectMessageClass(TableReloader.Reloaded.class));
    }

    @Test
    void aFailedActivationIsTypedActivate() throws IOException {
        ActorRef<TableReloader.Command> r = reloader(config());
        r.tell(TableReloader.Attach.INSTANCE);
        owner.expectMessageClass(TableReloader.DevicesAttached.class);
        devices.crashLoads.set(1);
        r.tell(new TableReloader.Activate(List.of(), false));
        TableReloader.ReloadFailed m = owner.expectMessageClass(TableReloader.ReloadFailed.class);
        assertEquals(TableReloader.ReloadFailure.ACTIVATE, m.failure());
    }

    @Test
    void aReloadOverriddenByHandIsTypedReloadAndLeavesTheDeviceResumed() throws IOException {
        ActorRef<TableReloader.Command> r = active();
        devices.manualLoadsBeforeSuspend.set(1);
        r.tell(new TableReloader.Reload(List.of(new Runs.Run(0, 1, 0)), List.of(0L), false));
        TableReloader.ReloadFailed m = owner.expectMessageClass(TableReloader.ReloadFailed.class);
        assertEquals(TableReloader.ReloadFailure.RELOAD, m.failure());
        assertFalse(devices.devices.get("vm1").suspended);
    }

    @Test
    void aCrashMidReloadIsTypedCrashedAndTheRestartedReloaderReloads() throws IOException {
        ActorRef<TableReloader.Command> r = active();
        devices.crashSuspends.set(1);
        List<Runs.Run> runs = List.of(new Runs.Run(0, 1, 0));
        r.tell(new TableReloader.Reload(runs, List.of(0L), false));
        assertEquals(TableReloader.ReloadFailure.CRASHED,
                owner.expectMessageClass(TableReloader.ReloadFailed.class).failure());
        assertFalse(devices.devices.get("vm1").suspended);
        r.tell(new TableReloader.Reload(runs, List.of(0L), false));
        assertEquals(new TableReloader.Reloaded(List.of(0L), 1, TableReloader.Swap.RELOAD),
                owner.expectMessageClass(TableReloader.Reloaded.class));
    }

    @Test
    void anOpenDeviceIsRefusedRemovalAndAClosedOneIsRemoved() throws IOException {
        ActorRef<TableReloader.Command> r = active();
        devices.devices.get("vm1").openCount = 1;
        r.tell(TableReloader.CheckRemovable.INSTANCE);
        assertTrue(owner.expectMessageClass(TableReloader.RemoveRefused.class).reason().contains("qemu-test"));
        r.tell(TableReloader.Remove.INSTANCE);
        assertNotNull(owner.expectMessageClass(TableReloader.Removed.class).error());
        assertTrue(devices.devices.containsKey("vm1"));
        devices.devices.get("vm1").openCount = 0;
        r.tell(TableReloader.CheckRemovable.INSTANCE);
        owner.expectMessage(TableReloader.Removable.INSTANCE);
        r.tell(TableReloader.Remove.INSTANCE);
        assertNull(owner.expectMessageClass(TableReloader.Removed.class).error());
        assertFalse(devices.devices.containsKey("vm1"));
    }
}
