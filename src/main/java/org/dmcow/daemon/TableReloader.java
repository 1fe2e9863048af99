/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.dmcow.config.VolumeConfig;
import org.dmcow.dm.DeviceMapper;
import org.dmcow.dm.LoopDevices;
import org.dmcow.dm.Tables;
import org.dmcow.format.Runs;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.StorageIdentity;

/**
 * One volume's devices: loop devices for file-backed base and CoW, the dm device and its table
 * reloads. Runs on its own dispatcher, off the control stream's threads. A reload suspends with
 * noflush: the kernel hands the writes that wait for the daemon (a full space) back to dm core
 * instead of the suspend waiting for them.
 */
public final class TableReloader extends AbstractBehavior<TableReloader.Command> {
    public interface Command {
    }

    /** Set up the base and CoW devices (loops for files). */
    public enum Attach implements Command {
        INSTANCE
    }

    /**
     * Make sure the dm device exists and serves these runs; {@code discardUnmap}: its segments
     * unmap chunks discarded whole (the space takes unmaps).
     */
    public record Activate(List<Runs.Run> runs, boolean discardUnmap) implements Command {
    }

    /** Load a table with these runs, suspend, resume; then the volume may FORGET {@code forget}. */
    public record Reload(List<Runs.Run> runs, List<Long> forget, boolean discardUnmap) implements Command {
    }

    /** Whether the dm device could be removed now: {@link Removable} or {@link RemoveRefused}. */
    public enum CheckRemovable implements Command {
        INSTANCE
    }

    /** Remove the dm device unless it is open. */
    public enum Remove implements Command {
        INSTANCE
    }

    /** What the reloader tells its owner. */
    public sealed interface Reply {
    }

    /** {@code cowLoop}: the loop device over a file-backed CoW space, or null for a block device. */
    public record DevicesAttached(Tables.Layout layout, Path cowLoop) implements Reply {
    }

    public record DevicesFailed(String reason) implements Reply {
    }

    /**
     * A table is live: the owner may FORGET {@code forget}. Every segment is a cow one, so the
     * kernel keeps the volume.
     */
    public record Reloaded(List<Long> forget, long segments, Swap swap) implements Reply {
    }

    /** How the table became live. */
    public enum Swap {
        /** A reload of the serving device (counted in the volume's reloads). */
        RELOAD,
        /** An activation over a device that already existed: its kernel volume may hold grants. */
        ADOPTED,
        /** An activation that created the device: no kernel volume held anything of it before. */
        CREATED
    }

    /** Which step failed; the device is never left suspended. */
    public enum ReloadFailure {
        /** Creating or adopting the dm device. */
        ACTIVATE,
        /** Loading, swapping or checking a new table; the old one still serves. */
        RELOAD,
        /** A bug or a broken seam during a reload: the reloader restarts. */
        CRASHED
    }

    public record ReloadFailed(ReloadFailure failure, String reason) implements Reply {
    }

    public enum Removable implements Reply {
        INSTANCE
    }

    /** {@code reason}: who holds the device open, or why its state is unknown. */
    public record RemoveRefused(String reason) implements Reply {
    }

    /** {@code error}: why the device is still there, or null once it and its loop devices are gone. */
    public record Removed(String error) implements Reply {
    }

    public static final String DISPATCHER = "dmcow-reload-dispatcher";

    private final VolumeConfig config;
    private final DeviceMapper dm;
    private final LoopDevices loops;
    private final ActorRef<Reply> owner;
    private Tables.Layout layout;
    /** Loop devices this volume uses, detached when its dm device is removed. */
    private final List<Path> loopDevices = new java.util.ArrayList<>();

    public static Behavior<Command> create(VolumeConfig config, DeviceMapper dm, LoopDevices loops,
            ActorRef<Reply> owner) {
        return Behaviors.<Command>supervise(Behaviors.setup(ctx -> new TableReloader(ctx, config, dm, loops, owner)))
                .onFailure(RuntimeException.class, SupervisorStrategy.restart());
    }

    private TableReloader(ActorContext<Command> ctx, VolumeConfig config, DeviceMapper dm, LoopDevices loops,
            ActorRef<Reply> owner) {
        super(ctx);
        this.config = config;
        this.dm = dm;
        this.loops = loops;
        this.owner = owner;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Attach.class, m -> onAttach())
                .onMessage(Activate.class, this::onActivate)
                .onMessage(Reload.class, this::onReload)
                .onMessage(CheckRemovable.class, m -> {
                    String busy = busy();
                    owner.tell(busy == null ? Removable.INSTANCE : new RemoveRefused(busy));
                    return this;
                })
                .onMessage(Remove.class, m -> onRemove())
                .build();
    }

    private Behavior<Command> onAttach() {
        try {
            LoopDevices.Loop cow = attachDevices();
            owner.tell(new DevicesAttached(layout, cow.device().equals(config.cow()) ? null : cow.device()));
        } catch (IOException | RuntimeException e) {
            owner.tell(new DevicesFailed("setting up the devices: " + e.getMessage()));
        }
        return this;
    }

    /** Sets {@link #layout} and {@link #loopDevices}; returns the CoW device. */
    private LoopDevices.Loop attachDevices() throws IOException {
        String baseDev = device(config.base(), true).majorMinor();
        long bytes = BlockDevices.isBlockDevice(config.base()) ? BlockDevices.size(config.base())
                : Files.size(config.base());
        if (bytes % 512 != 0 || bytes == 0) {
            throw new IOException(config.base() + ": size " + bytes + " is not a positive multiple of 512");
        }
        LoopDevices.Loop cow = device(config.cow(), false);
        layout = new Tables.Layout(config.name(), bytes / 512, config.chunkSectors(), baseDev, cow.majorMinor());
        return cow;
    }

    /**
     * The layout, rebuilt after a supervised restart lost it: attaching finds the loop devices already
     * attached, so the table names the same devices the volume was told about.
     */
    private Tables.Layout layout() throws IOException {
        if (layout == null) {
            attachDevices();
        }
        return layout;
    }

    private LoopDevices.Loop device(Path path, boolean readOnly) throws IOException {
        if (!Files.exists(path)) {
            throw new IOException(path + ": no such file or device");
        }
        if (BlockDevices.isBlockDevice(path)) {
            return new LoopDevices.Loop(path, BlockDevices.majorMinor(path));
        }
        LoopDevices.Loop loop = loops.attach(path, readOnly);
        if (!loopDevices.contains(loop.device())) {
            loopDevices.add(loop.device());
        }
        return loop;
    }

    private Behavior<Command> onActivate(Activate m) {
        try {
            List<DeviceMapper.Target> table = Tables.table(layout(), m.runs(), m.discardUnmap());
            DeviceMapper.DeviceStatus s = dm.status(config.name());
            boolean created = !s.exists();
            if (created) {
                dm.create(config.name(), StorageIdentity.DMCOW_UUID_PREFIX + config.name());
                dm.load(config.name(), table);
                dm.resume(config.name());
                getContext().getLog().info("volume {}: created /dev/mapper/{} ({} sectors, {} mapped segments)",
                        config.name(), config.name(), layout.volumeSectors(), Tables.mappedSegments(table));
            } else if (!dm.table(config.name()).equals(table)) {
                swap(table);
                getContext().getLog().info("volume {}: adopted the existing /dev/mapper/{} with a new table",
                        config.name(), config.name());
            }
            owner.tell(new Reloaded(List.of(), Tables.mappedSegments(table), created ? Swap.CREATED : Swap.ADOPTED));
        } catch (IOException | RuntimeException e) {
            owner.tell(new ReloadFailed(ReloadFailure.ACTIVATE, "activating /dev/mapper/" + config.name() + ": " + e.getMessage()));
        }
        return this;
    }

    private void swap(List<DeviceMapper.Target> table) throws IOException {
        dm.load(config.name(), table);
        dm.suspendNoflush(config.name());
        dm.resume(config.name());
    }

    private Behavior<Command> onReload(Reload m) {
        try {
            List<DeviceMapper.Target> table = Tables.table(layout(), m.runs(), m.discardUnmap());
            swap(table);
            if (!dm.table(config.name()).equals(table)) {
                // another load replaced ours before the resume: FORGET now would be refused, or leave
                // chunks that the live (older) table covers with cow segments unknown to the kernel
                throw new IOException("after the reload /dev/mapper/" + config.name() + " serves another table "
                        + "than the one dmcowd loaded (was a table loaded by hand meanwhile?); nothing was "
                        + "forgotten and the reload will be redone");
            }
            owner.tell(new Reloaded(m.forget(), Tables.mappedSegments(table), Swap.RELOAD));
        } catch (IOException e) {
            resumeAfter(e);
            owner.tell(new ReloadFailed(ReloadFailure.RELOAD, "table reload: " + e.getMessage()));
        } catch (RuntimeException e) {
            // A bug or a broken seam: this actor's state is suspect, so supervision restarts it. The
            // volume redoes the reload from its committed chunks and sends no FORGET for this one.
            resumeAfter(e);
            owner.tell(new ReloadFailed(ReloadFailure.CRASHED, "table reload crashed: " + e));
            throw e;
        }
        return this;
    }

    /** Never leave the device suspended after a failed reload: guests would hang. */
    private void resumeAfter(Exception e) {
        try {
            dm.resume(config.name());
        } catch (IOException | RuntimeException again) {
            e.addSuppressed(again);
        }
    }

    /** Why the device cannot be removed (it is open), or null. */
    private String busy() {
        try {
            DeviceMapper.DeviceStatus s = dm.status(config.name());
            return s.exists() && s.openCount() > 0
                    ? "/dev/mapper/" + config.name() + " is " + dm.holders(config.name(), s) : null;
        } catch (IOException e) {
            return "the state of /dev/mapper/" + config.name() + " is unknown: " + e.getMessage();
        }
    }

    private Behavior<Command> onRemove() {
        try {
            String busy = busy();
            if (busy != null) {
                owner.tell(new Removed(busy));
                return this;
            }
            DeviceMapper.DeviceStatus s = dm.status(config.name());
            if (s.exists()) {
                dm.remove(config.name());
            }
            if (layout == null) {
                // after a restart: find the loop devices to detach (attaching finds those attached)
                try {
                    attachDevices();
                } catch (IOException gone) {
                    getContext().getLog().info("volume {}: no loop devices to detach: {}", config.name(),
                            gone.getMessage());
                }
            }
            for (Path loop : loopDevices) {
                loops.detach(loop);
            }
            owner.tell(new Removed(null));
        } catch (IOException | RuntimeException e) {
            owner.tell(new Removed("removing /dev/mapper/" + config.name() + ": " + e.getMessage()));
        }
        return this;
    }
}
