/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Both bindings report errno, and an error names the path and the system's reason. */
class LibCTest {
    private static final int ENOENT = 2;
    private static final int EBADF = 9;

    @TempDir
    Path tmp;

    @Test
    void aFailedOpenNamesThePathAndTheReason() {
        Path missing = tmp.resolve("missing");
        LibC.ErrnoException e = assertThrows(LibC.ErrnoException.class,
                () -> LibC.open(missing.toString(), LibC.O_RDONLY));
        assertEquals(ENOENT, e.errno());
        assertEquals(missing + ": " + LibC.posix().strerror(ENOENT) + " (errno 2)", e.getMessage());
    }

    @Test
    void errnoAfterACallJnrPosixLacks() throws Exception {
        int fd = LibC.open(Files.writeString(tmp.resolve("f"), "x").toString(), LibC.O_RDONLY);
        LibC.posix().close(fd);
        assertTrue(LibC.ffi().ioctl(fd, 0, 0L) < 0);
        LibC.ErrnoException e = LibC.error("ioctl on a closed descriptor");
        assertEquals(EBADF, e.errno());
        assertEquals("ioctl on a closed descriptor: " + LibC.posix().strerror(EBADF) + " (errno 9)", e.getMessage());
    }

    @Test
    void readAndWriteMoveBytesThroughDirectBuffers() throws Exception {
        Path f = Files.writeString(tmp.resolve("f"), "");
        int fd = LibC.open(f.toString(), LibC.O_RDWR);
        try {
            ByteBuffer out = ByteBuffer.allocateDirect(5).put("hello".getBytes()).flip();
            assertEquals(5, LibC.posix().write(fd, out, 5));
            assertEquals(0, LibC.posix().lseekLong(fd, 0, 0));
            ByteBuffer in = ByteBuffer.allocateDirect(16);
            assertEquals(5, LibC.posix().read(fd, in, 16));
            byte[] got = new byte[5];
            in.get(got);
            assertEquals("hello", new String(got));
        } finally {
            LibC.posix().close(fd);
        }
    }
}
