/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.dmcow.util.Json;

/** The client end of the admin socket ({@link AdminServer}): one JSON request, one JSON answer. */
public final class AdminClient {
    private AdminClient() {
    }

    /** A request with only an op, e.g. {@code status}, {@code list}, {@code reload}. */
    public static String request(String op) {
        return Json.ObjectWriter.object().put("op", op).toString();
    }

    /** Every volume's status, the JSON of {@link StatusReport#json}. */
    public static String statusJson(Path socket) throws IOException {
        return ask(socket, request(AdminOps.STATUS));
    }

    /** Asks the daemon to grow volume {@code name}'s CoW space; {@link GrowResult#json} is the answer. */
    public static String grow(Path socket, String name, long size, long by) throws IOException {
        return ask(socket, Json.ObjectWriter.object().put("op", AdminOps.GROW).put("volume", name).put("size", size)
                .put("by", by).toString());
    }

    /** The daemon's metrics, the text of {@link MetricsText}. */
    public static String metrics(Path socket) throws IOException {
        return ask(socket, request(AdminOps.METRICS));
    }

    /** Sends {@code request} (one JSON object) to the daemon at {@code path} and returns its answer. */
    public static String ask(Path path, String request) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            c.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
            ByteBuffer b = ByteBuffer.allocate(1 << 16);
            StringBuilder out = new StringBuilder();
            while (c.read(b) >= 0) {
                b.flip();
                out.append(StandardCharsets.UTF_8.decode(b));
                b.clear();
            }
            return out.toString();
        }
    }
}
