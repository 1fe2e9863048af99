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
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin socket: one request line per connection ({@link #STATUS_JSON}), one answer, then
 * close. Only root may connect (mode 0600). {@link AdminClient} is the other end.
 */
public final class AdminServer implements Closeable {
    /** The request for every volume's {@link VolumeStatus}, as {@link StatusReport#json}. */
    public static final String STATUS_JSON = "status-json";
    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread thread;

    private AdminServer(Path path, ServerSocketChannel server, Supplier<CompletionStage<List<VolumeStatus>>> status) {
        this.path = path;
        this.server = server;
        this.thread = new Thread(() -> serve(status), "dmcowd-admin");
        thread.setDaemon(true);
    }

    public static AdminServer start(Path path, Supplier<CompletionStage<List<VolumeStatus>>> status)
            throws IOException {
        Files.createDirectories(path.toAbsolutePath().getParent());
        Files.deleteIfExists(path); // a socket left by a daemon that died
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        AdminServer a = new AdminServer(path, s, status);
        a.thread.start();
        return a;
    }

    private void serve(Supplier<CompletionStage<List<VolumeStatus>>> status) {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                String request = readLine(c);
                String answer;
                if (request.equals(STATUS_JSON)) {
                    answer = StatusReport.json(status.get().toCompletableFuture().get(10, TimeUnit.SECONDS));
                } else {
                    answer = "error: unknown request \"" + request + "\"\n";
                }
                ByteBuffer out = ByteBuffer.wrap(answer.getBytes(StandardCharsets.UTF_8));
                while (out.hasRemaining()) {
                    c.write(out);
                }
            } catch (IOException e) {
                if (server.isOpen()) {
                    LOG.warn("admin socket: {}", e.getMessage());
                }
            } catch (Exception e) {
                LOG.warn("admin socket: status failed: {}", e.toString());
            }
        }
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
