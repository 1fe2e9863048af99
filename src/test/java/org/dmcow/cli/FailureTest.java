/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Java's exceptions as "PATH: reason", the path once, the reason in the system's words. */
class FailureTest {
    private static final Path SPACE = Path.of("/srv/vm1.cow");

    private static String message(IOException e) {
        return Failure.of(SPACE, e).getMessage();
    }

    @Test
    void exceptionsWithoutAReasonGetTheSystemsWords() {
        assertEquals("/srv/vm1.cow: no such file or directory", message(new NoSuchFileException("/srv/vm1.cow")));
        assertEquals("/srv/vm1.cow: permission denied", message(new AccessDeniedException("/srv/vm1.cow")));
    }

    @Test
    void theExceptionsOwnFileWins() {
        Failure f = Failure.of(SPACE, new AccessDeniedException("/srv"));
        assertEquals("/srv: permission denied", f.getMessage());
        assertEquals(Path.of("/srv"), f.path());
    }

    @Test
    void reasonsFromTheSystemAreKeptLowerCased() {
        assertEquals("/srv/vm1.cow: read-only file system",
                message(new FileSystemException("/srv/vm1.cow", null, "Read-only file system")));
        assertEquals("/srv/vm1.cow: is a directory", message(new FileNotFoundException("/srv/vm1.cow (Is a directory)")));
        assertEquals("/srv/vm1.cow: is a directory", message(new IOException("Is a directory")));
        assertEquals("/srv/vm1.cow: connection refused", message(new SocketException("Connection refused")));
        assertEquals("/srv/vm1.cow: EIO on read", message(new IOException("EIO on read")));
        assertEquals("/srv/vm1.cow: I/O error", message(new IOException()));
    }
}
