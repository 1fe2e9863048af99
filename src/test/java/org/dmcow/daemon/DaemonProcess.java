/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.admin.VolumeStatus;
import org.dmcow.protocol.Protocol;

/**
 * A daemon (memory spaces, fake devices) in a process of its own, its control device a Unix
 * socket to the kernel double in the benchmark's process: the daemon's CPU is then its own, and
 * the double's work does not take its cores. {@link #start} runs it from the benchmark;
 * {@link #main} is the child.
 */
final class DaemonProcess implements AutoCloseable {
    private final Process child;
    private final SocketChannel socket;
    private final KernelDouble kernel;
    private final List<Thread> pumps = new ArrayList<>();

    private DaemonProcess(Process child, SocketChannel socket, KernelDouble kernel) {
        this.child = child;
        this.socket = socket;
        this.kernel = kernel;
    }

    /**
     * Starts a daemon of {@code volumes} volumes of {@code volumeSize} bytes (names v0, v1, ...)
     * with {@code config} in a child JVM (this JVM's options), and pumps the messages between it
     * and {@code kernel}; returns once every volume is added to {@code kernel} and serving.
     */
    static DaemonProcess start(KernelDouble kernel, int volumes, long volumeSize, String config, int[] ids)
            throws IOException, InterruptedException {
        Path sock = Files.createTempDirectory("dmcow-bench").resolve("control.sock");
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(sock));
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        // e.g. -Ddmcow.bench.daemon-opts=-XX:StartFlightRecording=filename=daemon.jfr to profile it alone
        String extra = System.getProperty("dmcow.bench.daemon-opts", "").trim();
        if (!extra.isEmpty()) {
            cmd.addAll(List.of(extra.split("\\s+")));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), DaemonProcess.class.getName(),
                sock.toString(), Integer.toString(volumes), Long.toString(volumeSize), config));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        SocketChannel socket = server.accept();
        server.close();
        DaemonProcess d = new DaemonProcess(child, socket, kernel);
        d.pump("kernel-to-daemon", d::kernelToDaemon);
        d.pump("daemon-to-kernel", d::daemonToKernel);
        for (int i = 0; i < volumes; i++) {
            ids[i] = kernel.addVolume("v" + i, volumeSize / 512, DaemonHarness.CHUNK_SECTORS);
        }
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        for (String line = out.readLine(); !"READY".equals(line); line = out.readLine()) {
            if (line == null) {
                throw new IOException("the daemon process ended before its volumes served");
            }
        }
        Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "daemon-output"); // its log
        drain.setDaemon(true);
        drain.start();
        return d;
    }

    private interface Loop {
        void run() throws IOException;
    }

    private void pump(String name, Loop loop) {
        Thread t = new Thread(() -> {
            try {
                loop.run();
            } catch (IOException e) {
                // the socket or the double closed: the benchmark ends
            }
        }, name);
        t.setDaemon(true);
        t.start();
        pumps.add(t);
    }

    private void kernelToDaemon() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Protocol.MAX_READ_MSGS * Protocol.MSG_SIZE);
        while (kernel.read(b.clear()) > 0) {
            b.flip();
            while (b.hasRemaining()) {
                socket.write(b);
            }
        }
        socket.shutdownOutput();
    }

    private void daemonToKernel() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Protocol.MAX_WRITE_MSGS * Protocol.MSG_SIZE);
        while (SocketControlDevice.readMessages(socket, b.clear()) > 0) {
            b.flip();
            try {
                kernel.write(b);
            } catch (org.dmcow.host.LibC.ErrnoException e) {
                System.err.println("the kernel double refused a reply: " + e.getMessage());
            }
        }
    }

    /** The daemon process's CPU time so far, in seconds. */
    double cpuSeconds() {
        return child.toHandle().info().totalCpuDuration().orElse(Duration.ZERO).toNanos() / 1e9;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        kernel.close(); // the double's reads end, the socket closes, the daemon's stream ends
        if (!child.waitFor(60, TimeUnit.SECONDS)) {
            child.destroyForcibly();
        }
        socket.close();
    }

    /** The child: SOCKET VOLUMES VOLUME-SIZE CONFIG. */
    public static void main(String[] args) throws Exception {
        int volumes = Integer.parseInt(args[1]);
        long volumeSize = Long.parseLong(args[2]);
        SocketChannel socket = SocketChannel.open(UnixDomainSocketAddress.of(Path.of(args[0])));
        ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString(Dmcowd.SCHEDULING)
                .withFallback(ConfigFactory.load()));
        DaemonHarness h = new DaemonHarness(kit, new SocketControlDevice(socket),
                Files.createTempDirectory("dmcow-bench"), volumeSize);
        String[] names = new String[volumes];
        for (int i = 0; i < volumes; i++) {
            names[i] = "v" + i;
        }
        h.start(h.volumes(args[3], names));
        while (!(h.status().size() == volumes
                && h.status().stream().allMatch(s -> s.state() == VolumeStatus.State.SERVING))) {
            Thread.sleep(50);
        }
        System.out.println("READY");
        System.out.flush();
        try {
            h.stream.toCompletableFuture().get(); // until the double closes the socket
        } catch (java.util.concurrent.ExecutionException e) {
            // the stream ends with the socket
        }
        kit.shutdownTestKit();
        System.exit(0);
    }
}
