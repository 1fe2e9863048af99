/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import org.dmcow.protocol.Protocol;

/**
 * The control device's messages over a Unix socket, for a daemon whose kernel double runs in
 * another process ({@link DaemonProcess}): reads return whole messages, writes send them all. The
 * other side applies them; a message it refuses is not reported back.
 */
final class SocketControlDevice implements ControlDevice {
    private final SocketChannel channel;

    SocketControlDevice(SocketChannel channel) {
        this.channel = channel;
    }

    /** Reads whole messages, at least one, into {@code dst} (whose room is a multiple of their size). */
    static int readMessages(SocketChannel channel, ByteBuffer dst) throws IOException {
        int start = dst.position();
        do {
            if (channel.read(dst) < 0) {
                return -1;
            }
        } while (dst.position() == start || (dst.position() - start) % Protocol.MSG_SIZE != 0);
        return dst.position() - start;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return readMessages(channel, dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        while (src.hasRemaining()) {
            channel.write(src);
        }
        return n;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
