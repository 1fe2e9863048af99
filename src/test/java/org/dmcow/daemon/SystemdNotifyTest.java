/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify datagrams arrive as systemd reads them (a python3 receiver stands in for systemd). */
class SystemdNotifyTest {
    private static String receive(String address, String state, Path dir) throws Exception {
        Path ready = dir.resolve("bound");
        String py = "import socket,sys\n"
                + "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n"
                + "a=sys.argv[1]\n"
                + "s.bind('\\0'+a[1:] if a.startswith('@') else a)\n"
                + "open(sys.argv[2],'w').close()\n"
                + "s.settimeout(20)\n"
                + "sys.stdout.write(s.recv(4096).decode())\n";
        Process p = new ProcessBuilder("python3", "-c", py, address, ready.toString()).start();
        for (int i = 0; i < 200 && !Files.exists(ready); i++) {
            Thread.sleep(50);
        }
        SystemdNotify.send(address, state);
        String got = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        return got;
    }

    @Test
    void aPathSocket(@TempDir Path dir) throws Exception {
        assertEquals("READY=1\nSTATUS=2 volume(s)", receive(dir.resolve("notify").toString(),
                "READY=1\nSTATUS=2 volume(s)", dir));
    }

    @Test
    void anAbstractSocket(@TempDir Path dir) throws Exception {
        assertEquals("STOPPING=1", receive("@dmcow-test-" + ProcessHandle.current().pid(), "STOPPING=1", dir));
    }
}
