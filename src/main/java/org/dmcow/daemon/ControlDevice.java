/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.dmcow.host.LibC;

/**
 * The control device as the daemon uses it: blocking reads of whole messages and writes of whole
 * messages, on separate descriptors. The seam where the kernel double plugs in.
 */
public interface ControlDevice extends Closeable {
    /** Reads one or more whole messages into {@code dst}; blocks until there is one; -1 at the end. */
    int read(ByteBuffer dst) throws IOException;

    /**
     * Writes whole messages from {@code src}; returns the bytes the kernel took (it applies messages
     * in order). A rejected message fails with {@link org.dmcow.host.LibC.ErrnoException} EINVAL.
     */
    int write(ByteBuffer src) throws IOException;
}
