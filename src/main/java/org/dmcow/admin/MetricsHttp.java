/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optional HTTP listener ({@code dmcow.metrics.listen}): GET /metrics answers the
 * {@link MetricsText}, anything else 404 (405 for another method). One named daemon thread
 * serves it, away from the actors and the I/O path.
 */
public final class MetricsHttp implements Closeable {
    public static final String PATH = "/metrics";
    private static final Logger LOG = LoggerFactory.getLogger(MetricsHttp.class);
    private final HttpServer server;
    private final ExecutorService thread;

    private MetricsHttp(HttpServer server, ExecutorService thread) {
        this.server = server;
        this.thread = thread;
    }

    /** Listens on {@code address}; {@code metrics} gives the text for each GET. */
    public static MetricsHttp start(InetSocketAddress address, Supplier<CompletionStage<String>> metrics)
            throws IOException {
        HttpServer server = HttpServer.create(address, 16);
        ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "dmcowd-metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(thread);
        server.createContext("/", exchange -> answer(exchange, metrics));
        server.start();
        return new MetricsHttp(server, thread);
    }

    /** Where it listens (the port chosen when 0 was asked). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void answer(HttpExchange exchange, Supplier<CompletionStage<String>> metrics) throws IOException {
        try (exchange) {
            if (!exchange.getRequestURI().getPath().equals(PATH)) {
                send(exchange, 404, "text/plain; charset=utf-8", "not found: only GET " + PATH + "\n");
            } else if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                send(exchange, 405, "text/plain; charset=utf-8", "only GET " + PATH + "\n");
            } else {
                String text;
                try {
                    text = metrics.get().toCompletableFuture().get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    LOG.warn("GET {}: the metrics did not come: {}", PATH, e.toString());
                    send(exchange, 503, "text/plain; charset=utf-8", "the daemon did not answer: " + e + "\n");
                    return;
                }
                send(exchange, 200, MetricsText.CONTENT_TYPE, text);
            }
        }
    }

    private static void send(HttpExchange exchange, int code, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(code, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        thread.shutdownNow();
    }
}
