/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin socket: one request line per connection, one answer (JSON, or the
 * text of {@link MetricsText} for {@link #METRICS}), then close: {@link #STATUS_JSON},
 * or {@code grow NAME SIZE BY} (bytes; 0 for neither). Only root may connect (mode 0600).
 * {@link AdminClient} is the other end.
 */
public final class AdminServer implements Closeable {
    /** The request for every volume's {@link VolumeStatus}, as {@link StatusReport#json}. */
    public static final String STATUS_JSON = "status-json";
    public static final String GROW = "grow";
    /** The request for the Prometheus text of {@link MetricsText}. */
    public static final String METRICS = "metrics";

    /** What the daemon answers. */
    public interface Requests {
        CompletionStage<List<VolumeStatus>> status();

        /** Grow volume {@code name}'s CoW space to {@code size} bytes, or by {@code by} (0: as it is now). */
        CompletionStage<GrowResult> grow(String name, long size, long by);

        /** The daemon's metrics as {@link MetricsText}. */
        CompletionStage<String> metrics();
    }

    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread thread;

    private AdminServer(Path path, ServerSocketChannel server, Requests requests) {
        this.path = path;
        this.server = server;
        this.thread = new Thread(() -> serve(requests), "dmcowd-admin");
        thread.setDaemon(true);
    }

    public static AdminServer start(Path path, Requests requests) throws IOException {
        Files.createDirectories(path.toAbsolutePath().getParent());
        Files.deleteIfExists(path); // a socket left by a daemon that died
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        AdminServer a = new AdminServer(path, s, requests);
        a.thread.start();
        return a;
    }

    private void serve(Requests requests) {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                String answer = answer(requests, readLine(c));
                ByteBuffer out = ByteBuffer.wrap(answer.getBytes(StandardCharsets.UTF_8));
                while (out.hasRemaining()) {
                    c.write(out);
                }
            } catch (IOException e) {
                if (server.isOpen()) {
                    LOG.warn("admin socket: {}", e.getMessage());
                }
            } catch (Exception e) {
                LOG.warn("admin socket: the request failed: {}", e.toString());
            }
        }
    }

    private static String answer(Requests requests, String request) throws Exception {
        String[] words = request.split(" ");
        if (request.equals(STATUS_JSON)) {
            return StatusReport.json(requests.status().toCompletableFuture().get(10, TimeUnit.SECONDS));
        }
        if (request.equals(METRICS)) {
            return requests.metrics().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        if (words.length == 4 && words[0].equals(GROW)) {
            try {
                long size = Long.parseLong(words[2]);
                long by = Long.parseLong(words[3]);
                return requests.grow(words[1], size, by).toCompletableFuture().get(60, TimeUnit.SECONDS).json();
            } catch (NumberFormatException e) {
                // answered below
            }
        }
        return "error: unknown request \"" + request + "\"\n";
    }

    private static String readLine(SocketChannel c) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                break;
            }
            String s = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
            if (s.indexOf('\n') >= 0) {
                return s.substring(0, s.indexOf('\n')).trim();
            }
        }
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(path);
    }
}
