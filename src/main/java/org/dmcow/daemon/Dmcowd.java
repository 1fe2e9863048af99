/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.dmcow.admin.AdminServer;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.MetricsHttp;
import org.dmcow.admin.MetricsText;
import org.dmcow.admin.ReloadResult;
import org.dmcow.admin.VolumeMetrics;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.config.ConfigException;
import org.dmcow.config.DaemonConfig;
import org.dmcow.dm.DmIoctl;
import org.dmcow.dm.LoopIoctl;
import org.dmcow.host.IoFlusher;
import org.dmcow.host.LibC;
import org.dmcow.protocol.Protocol;
import org.dmcow.util.Version;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * {@code dmcowd --config FILE}: the allocation daemon, in the foreground. SIGHUP re-reads the
 * config; SIGTERM (and SIGINT) commit everything, reload the tables once more and exit 0, leaving
 * the devices serving.
 */
public final class Dmcowd {
    private static final Logger LOG = LoggerFactory.getLogger(Dmcowd.class);
    /**
     * A read's messages pass from thread to thread (reader, volume set, volume, allocator,
     * writer). One thread for the actors, not Pekko's eight or more (their blocking work has
     * dispatchers of its own), and up to 64 messages per actor before it moves on: fewer wake-ups
     * and switches per message. With two, a message sent from one actor to another woke the idle
     * thread to take it, and a quarter of the daemon's CPU during write + fsync went to parking and
     * waking threads. The scheduler ticks every 100 ms, not 10: its timers are the commit interval
     * and reload delays, and each tick wakes a thread, which was most of an idle daemon's CPU.
     * Measured in one VM boot: docs/benchmarks.md, "Scheduling settings, in one boot" and
     * "Profiling the daemon (#17)".
     */
    static final String SCHEDULING = "pekko.actor.default-dispatcher.throughput = 64\n"
            + "pekko.actor.default-dispatcher.fork-join-executor { parallelism-min = 1, parallelism-max = 1 }\n"
            + "pekko.scheduler.tick-duration = 100ms\n";
    /** Pekko logs through logback; signals are the daemon's own business. */
    private static final String PEKKO = "pekko.loggers = [\"org.apache.pekko.event.slf4j.Slf4jLogger\"]\n"
            + "pekko.logging-filter = \"org.apache.pekko.event.slf4j.Slf4jLoggingFilter\"\n"
            + "pekko.jvm-shutdown-hooks = off\n"
            + "pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off\n"
            // A loaded host (or an emulated one) can take longer than Pekko's default 5 s to start
            // the logger; the daemon must not die of that at start-up.
            + "pekko.logger-startup-timeout = 60s\n" + SCHEDULING;

    private final Path configFile;
    private final ActorSystem<Void> system;
    private final ActorRef<VolumeSet.Command> volumes;
    private final ControlChannel.Replies replies;
    private final AdminServer admin;
    /** The HTTP listener of dmcow.metrics.listen, or null. */
    private final MetricsHttp metricsHttp;
    private final ControlChannel channel;
    private final RuntimeVolumes runtime;
    private final ServiceStatus service;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();

    private Dmcowd(Path configFile, DaemonConfig config, ControlChannel channel) throws IOException {
        this.configFile = configFile;
        this.channel = channel;
        this.system = ActorSystem.create(Behaviors.empty(), "dmcowd", actorSystemConfig(config));
        this.replies = channel.startReplies(system, Tuning.REPLY_QUEUE, Protocol.MAX_WRITE_MSGS);
        this.service = new ServiceStatus(this::statuses, SystemdNotify::notify,
                ServiceStatus.watchdogInterval(System.getenv(), ProcessHandle.current().pid()), Tuning.STATUS_POLL);
        LoopIoctl loops = new LoopIoctl();
        Volume.Environment env = new Volume.Environment(replies, new DmIoctl(), loops, new FormatSpaceOpener(loops),
                service);
        this.volumes = system.systemActorOf(VolumeSet.create(config, env), "volumes", Props.empty());
        system.systemActorOf(Watchdog.create(volumes, () -> {
            if (!stopping.get()) {
                LOG.error("the volume set stopped unexpectedly: exiting so that a restarted daemon gets the kernel's "
                        + "replay");
                exit.complete(1);
            }
        }), "volumes-watchdog", Props.empty());
        channel.run(system, volumes, config.streamInFlight()).whenComplete((d, e) -> {
            if (!stopping.get()) {
                LOG.error("the control device stream ended{}: exiting so that a restarted daemon gets the kernel's "
                        + "replay", e == null ? "" : " (" + e.getMessage() + ")");
                exit.complete(1);
            }
        });
        replies.written().whenComplete((d, e) -> {
            if (e != null) {
                LOG.error("writing to the kernel failed: {}: exiting", e.getMessage());
                exit.complete(1);
            }
        });
        this.runtime = new RuntimeVolumes(configFile, config, new RuntimeVolumes.Target() {
            @Override
            public void reconfigure(DaemonConfig c) {
                volumes.tell(new VolumeSet.Reconfigure(c));
            }

            @Override
            public CompletionStage<ShutdownResult> remove(DaemonConfig c, String name) {
                return AskPattern.ask(volumes, r -> new VolumeSet.RemoveVolume(c, name, r), Tuning.VOLUME_SHUTDOWN,
                        system.scheduler());
            }

            @Override
            public CompletionStage<List<VolumeStatus>> status(String name) {
                return AskPattern.ask(volumes, r -> new VolumeSet.GetVolumeStatus(name, r), Tuning.STATUS_ASK,
                        system.scheduler());
            }
        });
        this.admin = AdminServer.start(config.adminSocket(), DaemonAdmin.ops(new DaemonAdmin.Daemon() {
            @Override
            public CompletionStage<List<VolumeStatus>> status() {
                return statuses();
            }

            @Override
            public CompletionStage<GrowResult> grow(String name, long size, long by) {
                return AskPattern.ask(volumes, r -> new VolumeSet.Grow(name, size, by, r), Tuning.GROW_ASK,
                        system.scheduler());
            }

            @Override
            public CompletionStage<String> metrics() {
                return Dmcowd.this.metrics();
            }

            @Override
            public ReloadResult reload() {
                return Dmcowd.this.reload();
            }
        }, runtime));
        try {
            this.metricsHttp = config.metricsListen() == null ? null
                    : MetricsHttp.start(config.metricsListen(), this::metrics);
        } catch (IOException e) {
            throw new IOException("dmcow.metrics.listen = \"" + config.metricsListen().getHostString() + ":"
                    + config.metricsListen().getPort() + "\": cannot listen there: " + e.getMessage(), e);
        }
        if (metricsHttp != null) {
            LOG.info("metrics: GET http://{}:{}{}", config.metricsListen().getHostString(),
                    metricsHttp.address().getPort(), MetricsHttp.PATH);
        }
    }

    private CompletionStage<String> metrics() {
        return AskPattern.<VolumeSet.Command, List<VolumeMetrics>>ask(volumes, VolumeSet.GetMetrics::new,
                Tuning.STATUS_ASK, system.scheduler())
                .thenApply(v -> MetricsText.render(v, channel.metrics()));
    }

    /**
     * Ours over the config file's, except that -D options still win (for example
     * DMCOWD_JAVA_OPTS="-Dpekko.actor.default-dispatcher.throughput=5").
     */
    private CompletionStage<List<VolumeStatus>> statuses() {
        return AskPattern.ask(volumes, VolumeSet.GetStatus::new, Tuning.STATUS_ASK, system.scheduler());
    }

    static Config actorSystemConfig(DaemonConfig config) {
        return ConfigFactory.defaultOverrides().withFallback(ConfigFactory.parseString(PEKKO))
                .withFallback(config.raw());
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("--version")) {
            System.out.println("dmcowd " + Version.get());
            return;
        }
        if (args.length == 2 && args[0].equals("--check-config")) {
            System.exit(checkConfig(Path.of(args[1]), System.out, System.err));
        }
        if (args.length != 2 || !args[0].equals("--config")) {
            System.err.println("usage: dmcowd --config FILE | --check-config FILE | --version");
            System.exit(2);
        }
        System.exit(run(Path.of(args[1])));
    }

    /**
     * {@code dmcowd --check-config FILE}: every check a start or SIGHUP makes of the file, volume
     * conflicts included, without starting; 0 when all of it would serve, 2 when anything is
     * refused.
     */
    static int checkConfig(Path configFile, PrintStream out, PrintStream err) {
        DaemonConfig config;
        try {
            config = DaemonConfig.load(configFile);
        } catch (ConfigException e) {
            err.println(e.getMessage());
            return 2;
        }
        config.volumeErrors().values().forEach(err::println);
        if (!config.volumeErrors().isEmpty()) {
            err.println(configFile + ": " + config.volumeErrors().size() + " of "
                    + (config.volumes().size() + config.volumeErrors().size()) + " volume(s) refused");
            return 2;
        }
        out.println(configFile + ": valid, " + config.volumes().size() + " volume(s)");
        return 0;
    }

    static int run(Path configFile) {
        // first, on the main thread: every thread started from here on (the actors' and the
        // blocking dispatchers') inherits the flag
        IoFlusher.markThisThread().ifPresent(reason -> LOG.warn("{}; going on without it: memory reclaim in dmcowd "
                + "may wait on writes to the dm-cow volumes that wait on dmcowd", reason));
        DaemonConfig config;
        try {
            config = DaemonConfig.load(configFile);
        } catch (ConfigException e) {
            LOG.error("{}", e.getMessage());
            return 2;
        }
        if (config.lockMemory() && LibC.ffi().mlockall(LibC.MCL_CURRENT | LibC.MCL_FUTURE) != 0) {
            LOG.error("dmcow.lock-memory = true but mlockall failed: {}", LibC.error("mlockall").getMessage());
            return 1;
        }
        ControlChannel channel;
        try {
            channel = ControlChannel.handshake(ControlDeviceFile.open(config.controlDevice(),
                    Protocol.MAX_READ_MSGS * Protocol.MSG_SIZE, Protocol.MAX_WRITE_MSGS * Protocol.MSG_SIZE),
                    Protocol.MAX_READ_MSGS);
        } catch (IOException e) {
            LOG.error("cannot attach to the kernel module: {}", e.getMessage());
            return 1;
        }
        Dmcowd d;
        try {
            d = new Dmcowd(configFile, config, channel);
        } catch (IOException e) {
            LOG.error("start-up failed: {}", e.getMessage());
            return 1;
        }
        LOG.info("dmcowd {} running: {} volume(s), admin socket {}", Version.get(),
                config.volumes().size() + config.volumeErrors().size(), config.adminSocket());
        Signal.handle(new Signal("HUP"), s -> asIoFlusher(d::reload));
        Signal.handle(new Signal("TERM"), s -> asIoFlusher(d::shutdown));
        Signal.handle(new Signal("INT"), s -> asIoFlusher(d::shutdown));
        d.service.start();
        // System.exit follows: a read blocked in the kernel cannot be woken, and need not be
        return d.exit.join();
    }

    /**
     * A signal handler runs on a thread the JVM starts, which does not inherit the main thread's
     * PR_SET_IO_FLUSHER; a dispatcher thread it starts would not either. A refusal was logged at
     * the start.
     */
    private static void asIoFlusher(Runnable handler) {
        IoFlusher.markThisThread();
        handler.run();
    }

    private static void notifySystemd(String state) {
        try {
            SystemdNotify.notify(state);
        } catch (IOException e) {
            LOG.warn("sd_notify: {}", e.getMessage());
        }
    }

    /**
     * SIGHUP and {@code dmcowctl reload} (the unit's ExecReload) alike: systemd told RELOADING then
     * READY, the outcome in the log.
     */
    private ReloadResult reload() {
        LOG.info("reload: re-reading {} and {}", configFile, runtime.current().volumesDir());
        notifySystemd("RELOADING=1");
        ReloadResult r = runtime.reload();
        if (r.error() != null) {
            LOG.error("{}", r.error());
        } else {
            LOG.info("reloaded: added {}, removing {}, refused {}", r.added(), r.removed(), r.refused().keySet());
        }
        notifySystemd("READY=1");
        return r;
    }

    private void shutdown() {
        if (!stopping.compareAndSet(false, true)) {
            return;
        }
        LOG.info("stopping: no new faults are taken; committing every volume");
        service.stop();
        notifySystemd("STOPPING=1");
        AskPattern.<VolumeSet.Command, Done>ask(volumes, VolumeSet.Shutdown::new, Tuning.VOLUME_SHUTDOWN,
                system.scheduler())
                .thenCompose(done -> replies.complete())
                .toCompletableFuture()
                .orTimeout(Tuning.DAEMON_SHUTDOWN.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((done, e) -> {
                    if (metricsHttp != null) {
                        metricsHttp.close();
                    }
                    try {
                        admin.close();
                    } catch (IOException ignored) {
                        // the socket file goes with /run anyway
                    }
                    if (e != null) {
                        LOG.error("shutdown incomplete: {}", e.getMessage());
                        exit.complete(1);
                    } else {
                        LOG.info("stopped cleanly; the devices keep serving, new faults wait for the next dmcowd");
                        exit.complete(0);
                    }
                });
    }
}
