/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** GET /metrics on the HTTP listener answers the exposition; other paths and methods do not. */
class MetricsHttpTest {
    private static HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void getMetricsAnswersTheText() throws Exception {
        String text = MetricsTextTest.sample();
        try (MetricsHttp http = MetricsHttp.start(new InetSocketAddress("127.0.0.1", 0),
                () -> CompletableFuture.completedFuture(text))) {
            String base = "http://127.0.0.1:" + http.address().getPort();
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/metrics")));
            assertEquals(200, r.statusCode());
            assertEquals(MetricsText.CONTENT_TYPE, r.headers().firstValue("Content-Type").orElse(""));
            assertEquals(text, r.body());
            PrometheusText.parse(r.body());
            assertEquals(404, send(HttpRequest.newBuilder(URI.create(base + "/"))).statusCode());
            assertEquals(405, send(HttpRequest.newBuilder(URI.create(base + "/metrics"))
                    .POST(HttpRequest.BodyPublishers.ofString("x"))).statusCode());
        }
    }

    @Test
    void aDaemonThatDoesNotAnswerIs503() throws Exception {
        try (MetricsHttp http = MetricsHttp.start(new InetSocketAddress("127.0.0.1", 0),
                () -> CompletableFuture.failedFuture(new IllegalStateException("volumes gone")))) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + http.address().getPort() + "/metrics")));
            assertEquals(503, r.statusCode());
        }
    }
}
