/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.VolumeMetrics;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.DaemonConfig;
import org.dmcow.config.Sizes;
import org.dmcow.config.VolumeConfig;
import org.dmcow.format.FormatException;
import org.dmcow.protocol.ControlMessage;

/**
 * The root: the volumes of the config, kernel messages routed to them by the kernel's volume id,
 * config reloads (SIGHUP) and the coordinated shutdown (SIGTERM).
 */
public final class VolumeSet extends AbstractBehavior<VolumeSet.Command> {
    public interface Command {
    }

    /** The messages of one read; {@code accepted} is told once every volume took its share. */
    public record FromKernel(List<ControlMessage> messages, ActorRef<Done> accepted) implements Command {
    }

    /** Apply a re-read config: start new volumes, remove dropped ones. */
    public record Reconfigure(DaemonConfig config) implements Command {
    }

    /**
     * Commit everything in every volume; {@code replyTo} is told when all are done and their actors
     * have stopped, so every CoW space is closed (a qcow2 file frees its released clusters then).
     */
    public record Shutdown(ActorRef<Done> replyTo) implements Command {
    }

    public record GetStatus(ActorRef<List<VolumeStatus>> replyTo) implements Command {
    }

    /** The status of the volume called {@code name} alone: an empty list if none is served. */
    public record GetVolumeStatus(String name, ActorRef<List<VolumeStatus>> replyTo) implements Command {
    }

    /** Every volume's {@link VolumeMetrics}, by name. */
    public record GetMetrics(ActorRef<List<VolumeMetrics>> replyTo) implements Command {
    }

    /** {@link Volume.Grow} for the volume called {@code name}. */
    public record Grow(String name, long size, long by, ActorRef<GrowResult> replyTo) implements Command {
    }

    /**
     * Apply {@code config} (which no longer has {@code name}) and tell {@code replyTo} how the
     * removal of {@code name} ended: removed, or refused (its device is open) and serving on.
     */
    public record RemoveVolume(DaemonConfig config, String name, ActorRef<ShutdownResult> replyTo) implements Command {
    }

    private record Stopped(ShutdownResult result) implements Command {
    }

    /** A stopped volume's actor, and with it its allocator and CoW space, is gone. */
    private record Closed(ShutdownResult result) implements Command {
    }

    private final Volume.Settings settings;
    private final Volume.Environment env;
    private final Map<String, ActorRef<Volume.Command>> volumes = new TreeMap<>();
    private final Map<String, VolumeConfig> configs = new HashMap<>();
    private final Map<Integer, String> idents = new HashMap<>();
    private final Map<Integer, List<ControlMessage>> orphans = new HashMap<>();
    private final Map<String, Boolean> removing = new HashMap<>();
    private final Map<String, List<ActorRef<ShutdownResult>>> removalWaiters = new HashMap<>();
    /** Volumes that answered their shutdown and whose actors are still stopping. */
    private final Set<String> closing = new HashSet<>();
    private ActorRef<Done> shutdownReply;

    public static Behavior<Command> create(DaemonConfig config, Volume.Environment env) {
        return Behaviors.setup(ctx -> new VolumeSet(ctx, config, env));
    }

    static Volume.Settings settings(DaemonConfig c) {
        return new Volume.Settings(c.commitInterval(), c.maxInFlight(), c.reloadMaxMappings(), c.reloadMaxDelay(),
                c.grantWindow());
    }

    private VolumeSet(ActorContext<Command> ctx, DaemonConfig config, Volume.Environment env) {
        super(ctx);
        this.settings = settings(config);
        this.env = env;
        apply(config);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(FromKernel.class, this::onKernel)
                .onMessage(Reconfigure.class, m -> {
                    apply(m.config());
                    return this;
                })
                .onMessage(RemoveVolume.class, this::onRemove)
                .onMessage(Shutdown.class, this::onShutdown)
                .onMessage(Stopped.class, this::onStopped)
                .onMessage(Closed.class, this::onClosed)
                .onMessage(GetStatus.class, this::onStatus)
                .onMessage(GetVolumeStatus.class, this::onVolumeStatus)
                .onMessage(GetMetrics.class, this::onMetrics)
                .onMessage(Grow.class, this::onGrow)
                .onSignal(Terminated.class, t -> this)
                .build();
    }

    private void apply(DaemonConfig config) {
        if (shutdownReply != null) {
            return;
        }
        for (var e : config.volumeErrors().entrySet()) {
            String name = e.getKey();
            if (volumes.containsKey(name) && configs.containsKey(name)) {
                getContext().getLog().error("volume {}: the new config is refused, it keeps running as it was: {}",
                        name, e.getValue());
                continue;
            }
            stopQuietly(name);
            volumes.put(name, getContext().spawn(RefusedVolume.create(name, e.getValue()), "refused-" + name + "-"
                    + System.nanoTime()));
            configs.remove(name);
        }
        for (VolumeConfig configured : config.volumes().values()) {
            VolumeConfig v = withSpaceChunkSize(configured);
            VolumeConfig old = configs.get(v.name());
            if (old != null) {
                if (!old.equals(v)) {
                    getContext().getLog().warn("volume {}: changed settings take effect once it is removed and "
                            + "added again", v.name());
                }
                volumes.get(v.name()).tell(Volume.Retry.INSTANCE);
                continue;
            }
            stopQuietly(v.name());
            ActorRef<Volume.Command> ref = getContext().spawn(Volume.create(v, settings, env),
                    "volume-" + v.name() + "-" + System.nanoTime());
            volumes.put(v.name(), ref);
            configs.put(v.name(), v);
            getContext().getLog().info("volume {}: starting ({} over {}, format {}, chunk size {})", v.name(),
                    v.cow(), v.base(), v.format(), v.chunkSize());
            handOverOrphans(v.name(), ref);
        }
        for (String name : new ArrayList<>(volumes.keySet())) {
            boolean configured = config.volumes().containsKey(name) || config.volumeErrors().containsKey(name);
            if (!configured && !removing.containsKey(name)) {
                getContext().getLog().info("volume {}: removed from the config: committing, then removing "
                        + "/dev/mapper/{}", name, name);
                removing.put(name, true);
                getContext().ask(ShutdownResult.class, volumes.get(name),
                        Tuning.VOLUME_SHUTDOWN, r -> new Volume.Shutdown(true, r),
                        (r, err) -> new Stopped(r != null ? r : new ShutdownResult(name,
                                "no answer: " + err.getMessage())));
            }
        }
    }

    /**
     * The device is built with the CoW space's own chunk size (a qcow2 image's cluster size), not
     * the config's. A space that cannot be read keeps the config's: opening it reports why.
     */
    private VolumeConfig withSpaceChunkSize(VolumeConfig v) {
        long size;
        try {
            size = env.opener().chunkSize(v);
        } catch (IOException | FormatException | RuntimeException e) {
            return v;
        }
        if (size == v.chunkSize()) {
            return v;
        }
        getContext().getLog().info("volume {}: chunk size {} from the CoW space {}, not chunk-size = {} of the config",
                v.name(), Sizes.format(size), v.cow(), Sizes.format(v.chunkSize()));
        return v.withChunkSize(size);
    }

    /** A refused volume's actor only answers status: replaced when the config changes. */
    private void stopQuietly(String name) {
        ActorRef<Volume.Command> old = volumes.remove(name);
        if (old != null) {
            getContext().stop(old);
        }
    }

    private void handOverOrphans(String name, ActorRef<Volume.Command> ref) {
        for (var e : idents.entrySet()) {
            if (e.getValue().equals(name)) {
                List<ControlMessage> held = orphans.remove(e.getKey());
                if (held != null) {
                    ref.tell(new Volume.FromKernel(held, new Acceptance(1, getContext().getSystem().ignoreRef())));
                }
            }
        }
    }

    private Behavior<Command> onKernel(FromKernel m) {
        // one message per volume the read touched, not one per kernel message
        Map<ActorRef<Volume.Command>, List<ControlMessage>> shares = new HashMap<>();
        for (ControlMessage msg : m.messages()) {
            ActorRef<Volume.Command> target = route(msg);
            if (target != null) {
                shares.computeIfAbsent(target, k -> new ArrayList<>()).add(msg);
            }
        }
        if (shares.isEmpty()) {
            m.accepted().tell(Done.getInstance());
            return this;
        }
        Acceptance accepted = new Acceptance(shares.size(), m.accepted());
        shares.forEach((target, messages) -> target.tell(new Volume.FromKernel(messages, accepted)));
        return this;
    }

    /** The volume that takes {@code msg}, or null when it is handled here (kept as an orphan, or ignored). */
    private ActorRef<Volume.Command> route(ControlMessage msg) {
        if (msg instanceof ControlMessage.ReplayDone) {
            getContext().getLog().info("the kernel's replay is complete");
            return null;
        }
        if (msg instanceof ControlMessage.Hello) {
            getContext().getLog().warn("ignored a second HELLO from the kernel");
            return null;
        }
        if (msg instanceof ControlMessage.Volume v) {
            idents.put(v.volume(), v.ident());
        }
        String name = idents.get(msg.volume());
        ActorRef<Volume.Command> target = name == null || !configs.containsKey(name) ? null : volumes.get(name);
        if (msg instanceof ControlMessage.VolumeGone) {
            idents.remove(msg.volume());
            orphans.remove(msg.volume());
        }
        if (target != null) {
            return target;
        }
        List<ControlMessage> held = orphans.computeIfAbsent(msg.volume(), k -> new ArrayList<>());
        if (held.isEmpty()) {
            getContext().getLog().warn("kernel volume {} ({}) is not served by a configured volume: its writes to "
                    + "new chunks wait", msg.volume(), name == null ? "ident unknown" : name);
        }
        if (held.size() < Tuning.MAX_ORPHANS) {
            held.add(msg);
        }
        return null;
    }

    private Behavior<Command> onShutdown(Shutdown m) {
        shutdownReply = m.replyTo();
        if (volumes.isEmpty() && closing.isEmpty()) {
            m.replyTo().tell(Done.getInstance());
            return this;
        }
        for (var e : volumes.entrySet()) {
            String name = e.getKey();
            getContext().ask(ShutdownResult.class, e.getValue(), Tuning.VOLUME_SHUTDOWN,
                    r -> new Volume.Shutdown(false, r),
                    (r, err) -> new Stopped(r != null ? r : new ShutdownResult(name,
                            "no answer: " + err.getMessage())));
        }
        return this;
    }

    private Behavior<Command> onRemove(RemoveVolume m) {
        apply(m.config());
        if (removing.containsKey(m.name())) {
            removalWaiters.computeIfAbsent(m.name(), k -> new ArrayList<>()).add(m.replyTo());
        } else {
            m.replyTo().tell(new ShutdownResult(m.name(), null)); // not served: nothing to stop
        }
        return this;
    }

    private Behavior<Command> onStopped(Stopped m) {
        String name = m.result().volume();
        boolean wasRemoval = removing.remove(name) != null;
        if (wasRemoval && m.result().refused() != null && shutdownReply == null) {
            answerRemoval(m.result()); // still open: it keeps serving
            return this;
        }
        ActorRef<Volume.Command> ref = volumes.remove(name);
        configs.remove(name);
        if (ref == null) {
            return onClosed(new Closed(m.result()));
        }
        // answered once the actor is gone: its space is closed by then (a stop answered only by
        // the ask's timeout stops it here)
        closing.add(name);
        getContext().watchWith(ref, new Closed(m.result()));
        getContext().stop(ref);
        return this;
    }

    private Behavior<Command> onClosed(Closed m) {
        closing.remove(m.result().volume());
        answerRemoval(m.result());
        if (shutdownReply != null && volumes.isEmpty() && closing.isEmpty()) {
            getContext().getLog().info("every volume is committed and its CoW space closed");
            shutdownReply.tell(Done.getInstance());
        }
        return this;
    }

    private void answerRemoval(ShutdownResult result) {
        List<ActorRef<ShutdownResult>> waiters = removalWaiters.remove(result.volume());
        if (waiters != null) {
            waiters.forEach(w -> w.tell(result));
        }
    }

    private Behavior<Command> onGrow(Grow m) {
        ActorRef<Volume.Command> volume = volumes.get(m.name());
        if (volume == null || removing.containsKey(m.name())) {
            m.replyTo().tell(GrowResult.refused(m.name(), "no volume " + m.name() + " is served"));
        } else {
            volume.tell(new Volume.Grow(m.size(), m.by(), m.replyTo()));
        }
        return this;
    }

    private Behavior<Command> onStatus(GetStatus m) {
        getContext().spawnAnonymous(StatusQuery.create(new ArrayList<>(volumes.values()), VolumeStatus.class,
                Volume.GetStatus::new, VolumeStatus::name, m.replyTo(), Tuning.STATUS_TIMEOUT));
        return this;
    }

    private Behavior<Command> onVolumeStatus(GetVolumeStatus m) {
        ActorRef<Volume.Command> volume = volumes.get(m.name());
        getContext().spawnAnonymous(StatusQuery.create(volume == null ? List.of() : List.of(volume),
                VolumeStatus.class, Volume.GetStatus::new, VolumeStatus::name, m.replyTo(), Tuning.STATUS_TIMEOUT));
        return this;
    }

    private Behavior<Command> onMetrics(GetMetrics m) {
        getContext().spawnAnonymous(StatusQuery.create(new ArrayList<>(volumes.values()), VolumeMetrics.class,
                Volume.GetMetrics::new, v -> v.status().name(), m.replyTo(), Tuning.STATUS_TIMEOUT));
        return this;
    }
}
