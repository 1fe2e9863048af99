/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** CRC32C over a space's UUID and a byte range: a block from another (older) space never verifies. */
final class Checksums {
    private Checksums() {
    }

    /** CRC32C of {@code uuid} followed by {@code bytes[from, to)}. */
    static int of(byte[] uuid, ByteBuffer bytes, int from, int to) {
        CRC32C crc = new CRC32C();
        crc.update(uuid);
        crc.update(bytes.duplicate().limit(to).position(from));
        return (int) crc.getValue();
    }

    /** True when {@code bytes[from, to)} are all zero: a block that was never written. */
    static boolean allZero(ByteBuffer bytes, int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}
