/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.dmcow.host.LibC;

/**
 * sd_notify(3) for Type=notify units: a datagram to $NOTIFY_SOCKET (the JDK has no Unix datagram
 * sockets, hence libc). Without $NOTIFY_SOCKET, not under systemd: nothing to do.
 */
final class SystemdNotify {
    private static final int SUN_PATH = 108;

    private SystemdNotify() {
    }

    /** Sends {@code state} ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..."). */
    static void notify(String state) throws IOException {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket != null && !socket.isEmpty()) {
            send(socket, state);
        }
    }

    static void send(String socket, String state) throws IOException {
        byte[] path = socket.getBytes(StandardCharsets.UTF_8);
        if (path.length >= SUN_PATH) {
            throw new IOException("NOTIFY_SOCKET too long: " + socket);
        }
        // struct sockaddr_un; an abstract socket ("@name") starts with a NUL byte and has no terminator
        ByteBuffer addr = ByteBuffer.allocate(2 + SUN_PATH).order(ByteOrder.nativeOrder());
        addr.putShort((short) LibC.AF_UNIX);
        addr.put(path);
        boolean abstractName = path[0] == '@';
        if (abstractName) {
            addr.put(2, (byte) 0);
        }
        int addrLen = 2 + path.length + (abstractName ? 0 : 1);
        int fd = LibC.ffi().socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.O_CLOEXEC, 0);
        if (fd < 0) {
            throw LibC.error("socket for sd_notify");
        }
        try {
            byte[] msg = state.getBytes(StandardCharsets.UTF_8);
            if (LibC.ffi().sendto(fd, msg, msg.length, 0, addr.array(), addrLen) < 0) {
                throw LibC.error("sd_notify to " + socket);
            }
        } finally {
            LibC.posix().close(fd);
        }
    }
}
