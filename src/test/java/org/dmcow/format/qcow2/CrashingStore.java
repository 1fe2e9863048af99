/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.dmcow.format.CowStore;

/**
 * A store that "crashes" after {@code survivingWrites} writes: every later write is dropped (the
 * caller is not told), as if power failed with writes applied in order up to that point.
 */
final class CrashingStore implements CowStore {
    private final CowStore inner;
    private final long survivingWrites;
    private long writes;

    CrashingStore(CowStore inner, long survivingWrites) {
        this.inner = inner;
        this.survivingWrites = survivingWrites;
    }

    /** Writes attempted so far, dropped ones included. */
    long writes() {
        return writes;
    }

    boolean crashed() {
        return writes > survivingWrites;
    }

    @Override
    public Path path() {
        return inner.path();
    }

    @Override
    public long size() throws IOException {
        return inner.size();
    }

    @Override
    public void read(ByteBuffer dst, long position) throws IOException {
        inner.read(dst, position);
    }

    @Override
    public void write(ByteBuffer src, long position) throws IOException {
        writes++;
        if (writes <= survivingWrites) {
            inner.write(src, position);
        } else {
            src.position(src.limit());
        }
    }

    @Override
    public void flush() throws IOException {
        if (!crashed()) {
            inner.flush();
        }
    }

    @Override
    public void grow(long newSize) throws IOException {
        inner.grow(newSize);
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
