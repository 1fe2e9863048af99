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

/** The client end of the admin socket ({@link AdminServer}): what {@code dmcowctl status} asks. */
public final class AdminClient {
    private AdminClient() {
    }

    /** Every volume's status, the JSON of {@link StatusReport#json}. */
    public static String statusJson(Path socket) throws IOException {
        return ask(socket, AdminServer.STATUS_JSON);
    }

    /** Asks the daemon to grow volume {@code name}'s CoW space; {@link GrowResult#json} is the answer. */
    public static String grow(Path socket, String name, long size, long by) throws IOException {
        return ask(socket, AdminServer.GROW + " " + name + " " + size + " " + by);
    }

    /** The daemon's metrics, the text of {@link MetricsText}. */
    public static String metrics(Path socket) throws IOException {
        return ask(socket, AdminServer.METRICS);
    }

    /** Sends {@code request} to the daemon at {@code path} and returns its answer. */
    static String ask(Path path, String request) throws IOException {
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
