/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** The shared read-only base, as configured: its path, size and content for identity checks. */
public interface BaseImage {
    Path path();

    long size() throws IOException;

    /** Reads exactly {@code dst.remaining()} bytes at {@code position}. */
    void read(ByteBuffer dst, long position) throws IOException;
}
