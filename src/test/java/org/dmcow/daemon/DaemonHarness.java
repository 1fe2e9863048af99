/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.DaemonConfig;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.FormatException;

/**
 * A daemon in the test JVM: the real actors and streams over a kernel double (or any control
 * device: {@link DaemonProcess} serves one in another process) and fake devices.
 */
final class DaemonHarness {
    static final long BASE_SIZE = 16 << 20;
    static final long BASE_SECTORS = BASE_SIZE / 512;
    static final int CHUNK_SECTORS = 128;
    static final long CHUNKS = BASE_SECTORS / CHUNK_SECTORS;

    final ActorTestKit kit;
    /** The kernel double, or null when the control device is another's ({@link #DaemonHarness(ActorTestKit, ControlDevice, Path, long)}). */
    final KernelDouble kernel;
    private final ControlDevice device;
    final FakeDevices devices = new FakeDevices();
    final Map<String, MemoryCowSpace.Durable> spaces = new ConcurrentHashMap<>();
    /** What the volumes told their space listener, in order: "NAME full", "NAME has room". */
    final List<String> fullEvents = new java.util.concurrent.CopyOnWriteArrayList<>();
    final Path dir;
    /** The base's size, and each memory space's (twice as many chunks). */
    final long baseSize;
    /** When set, the volumes' spaces are opened by this (e.g. the real formats) instead of {@link #spaces}. */
    SpaceOpener realSpaces;
    DaemonConfig config;
    ControlChannel channel;
    ControlChannel.Replies replies;
    ActorRef<VolumeSet.Command> volumeSet;
    CompletionStage<Done> stream;

    DaemonHarness(ActorTestKit kit, KernelDouble kernel, Path dir) throws IOException {
        this(kit, kernel, dir, BASE_SIZE);
    }

    DaemonHarness(ActorTestKit kit, KernelDouble kernel, Path dir, long baseSize) throws IOException {
        this(kit, kernel, kernel, dir, baseSize);
        kernel.table = ident -> {
            FakeDevices.Device d = devices.devices.get(ident);
            return d == null ? List.of() : d.live;
        };
        kernel.swaps = ident -> {
            FakeDevices.Device d = devices.devices.get(ident);
            return d == null ? 0 : d.swaps;
        };
    }

    /** Over a control device whose kernel side is elsewhere (another process). */
    DaemonHarness(ActorTestKit kit, ControlDevice device, Path dir, long baseSize) throws IOException {
        this(kit, null, device, dir, baseSize);
    }

    private DaemonHarness(ActorTestKit kit, KernelDouble kernel, ControlDevice device, Path dir, long baseSize)
            throws IOException {
        this.kit = kit;
        this.kernel = kernel;
        this.device = device;
        this.dir = dir;
        this.baseSize = baseSize;
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("base.img").toFile(), "rw")) {
            f.setLength(baseSize);
        }
    }

    /**
     * {@link #volumes} committing only on flushes, and reloading tables after {@code maxMappings}
     * committed mappings or {@code maxDelay}.
     */
    String reloading(int maxMappings, String maxDelay, String... names) throws IOException {
        return volumes("dmcow.commit-interval = 1h\ndmcow.reload.max-mappings = " + maxMappings
                + "\ndmcow.reload.max-delay = " + maxDelay, names);
    }

    /** A kernel volume of the base's size in the harness's chunks, as a new device table reports it. */
    int addVolume(String ident) {
        return kernel.addVolume(ident, BASE_SECTORS, CHUNK_SECTORS);
    }

    /** HOCON for volumes named {@code names} over the shared base, each with its own memory space. */
    String volumes(String extra, String... names) throws IOException {
        StringBuilder b = new StringBuilder(extra).append('\n');
        for (String n : names) {
            Path cow = dir.resolve(n + ".cow");
            if (!Files.exists(cow)) {
                Files.createFile(cow);
            }
            b.append("dmcow.volumes.").append(n).append(" { base = \"").append(dir.resolve("base.img"))
                    .append("\", cow = \"").append(cow).append("\", format = memory }\n");
            spaces.computeIfAbsent(n, k -> new MemoryCowSpace.Durable(64 << 10, baseSize,
                    2 * baseSize / (CHUNK_SECTORS * 512L)));
        }
        return b.toString();
    }

    DaemonHarness start(String hocon) throws Exception {
        return start(hocon, r -> r);
    }

    /** Starts the daemon; {@code wrapReplies} lets a test put a failing seam between volumes and kernel. */
    DaemonHarness start(String hocon, UnaryOperator<KernelReplies> wrapReplies) throws Exception {
        // the fault path's tests see every first write fault; GrantTest turns grants on
        config = DaemonConfig.from("test", ConfigFactory.parseString("dmcow.grant-window = 0\n" + hocon));
        channel = ControlChannel.handshake(device, 32);
        replies = channel.startReplies(kit.system(), 1 << 16, 64);
        SpaceOpener opener = new SpaceOpener() {
            @Override
            public OpenedSpace open(VolumeConfig volume, Path cowLoop) throws FormatException {
                return spaces.get(volume.name()).open();
            }

            @Override
            public long chunkSize(VolumeConfig volume) throws IOException {
                MemoryCowSpace.Durable space = spaces.get(volume.name());
                if (space == null) {
                    throw new IOException(volume.cow() + ": no such file");
                }
                return space.chunkSize;
            }
        };
        Volume.Environment env = new Volume.Environment(wrapReplies.apply(replies), devices, devices,
                realSpaces != null ? realSpaces : opener, (volume, full) -> fullEvents.add(volume + (full ? " full"
                        : " has room")));
        volumeSet = kit.spawn(VolumeSet.create(config, env));
        stream = channel.run(kit.system(), volumeSet, config.streamInFlight());
        return this;
    }

    List<VolumeStatus> status() {
        TestProbe<List<VolumeStatus>> p = kit.createTestProbe();
        volumeSet.tell(new VolumeSet.GetStatus(p.ref()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    /** VolumeSet's answer for one volume alone (what an add's wait asks). */
    List<VolumeStatus> volumeStatus(String name) {
        TestProbe<List<VolumeStatus>> p = kit.createTestProbe();
        volumeSet.tell(new VolumeSet.GetVolumeStatus(name, p.ref()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    VolumeStatus status(String name) {
        return status().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    void shutdown() {
        TestProbe<Done> p = kit.createTestProbe();
        volumeSet.tell(new VolumeSet.Shutdown(p.ref()));
        p.receiveMessage(Duration.ofSeconds(20));
        // as Dmcowd does: the last replies (the final reload's FORGETs) reach the kernel first
        try {
            replies.complete().toCompletableFuture().get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("the last replies were not written: " + e, e);
        }
        kit.stop(volumeSet);
        try {
            device.close();
        } catch (IOException e) {
            throw new IllegalStateException("closing the control device: " + e, e);
        }
    }
}
