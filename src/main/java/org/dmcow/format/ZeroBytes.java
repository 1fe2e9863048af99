/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.nio.ByteBuffer;

/** Whether bytes are all zeros: what image writers leave as holes, as {@code qemu-img convert} does. */
public final class ZeroBytes {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private ZeroBytes() {
    }

    /** Whether {@code buf[from, to)} (absolute indexes) holds only zeros; compared in vectorised blocks. */
    public static boolean all(ByteBuffer buf, int from, int to) {
        for (int at = from; at < to;) {
            int n = Math.min(ZEROS.capacity(), to - at);
            if (buf.slice(at, n).mismatch(ZEROS.slice(0, n)) >= 0) {
                return false;
            }
            at += n;
        }
        return true;
    }
}
