/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
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
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.dmcow.util.Json;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin socket: one request per connection, a JSON object with an {@code "op"} naming the
 * {@link Op} that answers it (one JSON document), then close. Each connection has its own thread, so
 * a slow request (an add that waits for its device, a removal that commits) does not hold up a
 * status. Only root may connect (mode 0600). {@link AdminClient} is the other end.
 */
public final class AdminServer implements Closeable {
    /** The largest request read; a volume's paths fit many times over. */
    static final int MAX_REQUEST = 64 * 1024;

    /** The answer to one kind of request; {@code request} is the whole JSON object. */
    @FunctionalInterface
    public interface Op {
        String answer(Config request) throws Exception;
    }

    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    private final Path path;
    private final ServerSocketChannel server;
    private final Map<String, Op> ops;
    private final ExecutorService connections;
    private final Thread acceptor;

    private AdminServer(Path path, ServerSocketChannel server, Map<String, Op> ops) {
        this.path = path;
        this.server = server;
        this.ops = Map.copyOf(ops);
        AtomicInteger n = new AtomicInteger();
        this.connections = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "dmcowd-admin-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.acceptor = new Thread(this::accept, "dmcowd-admin");
        acceptor.setDaemon(true);
    }

    /** Serves {@code ops} (by their "op" name) at {@code path}. */
    public static AdminServer start(Path path, Map<String, Op> ops) throws IOException {
        Files.createDirectories(path.toAbsolutePath().getParent());
        Files.deleteIfExists(path); // a socket left by a daemon that died
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        AdminServer a = new AdminServer(path, s, ops);
        a.acceptor.start();
        return a;
    }

    private void accept() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                connections.execute(() -> serve(c));
            } catch (IOException e) {
                if (server.isOpen()) {
                    LOG.warn("admin socket: {}", e.getMessage());
                }
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            ByteBuffer out = ByteBuffer.wrap(answer(readRequest(c)).getBytes(StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                c.write(out);
            }
        } catch (IOException e) {
            LOG.warn("admin socket: {}", e.getMessage());
        }
    }

    String answer(String text) {
        Config request;
        try {
            request = ConfigFactory.parseString(text, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
        } catch (com.typesafe.config.ConfigException e) {
            return error("the request is not a JSON object: " + e.getMessage());
        }
        String name = request.hasPath("op") ? request.getString("op") : null;
        Op op = ops.get(name);
        if (op == null) {
            return error("unknown op " + Json.quote(name) + "; known: " + new java.util.TreeSet<>(ops.keySet()));
        }
        try {
            return op.answer(request);
        } catch (com.typesafe.config.ConfigException e) {
            return error("op " + name + ": bad request: " + e.getMessage());
        } catch (Exception e) {
            LOG.warn("admin socket: op {} failed: {}", name, e.toString());
            return error("op " + name + " failed: " + e);
        }
    }

    private static String error(String message) {
        return Json.ObjectWriter.document().put("error", message) + "\n";
    }

    /** The request: everything up to the first newline or the client's end of output. */
    private static String readRequest(SocketChannel c) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(MAX_REQUEST);
        while (b.hasRemaining() && c.read(b) >= 0) {
            for (int i = 0; i < b.position(); i++) {
                if (b.get(i) == '\n') {
                    return new String(b.array(), 0, i, StandardCharsets.UTF_8);
                }
            }
        }
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        server.close();
        connections.shutdownNow();
        Files.deleteIfExists(path);
    }
}
