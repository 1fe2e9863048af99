/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.OptionalLong;

/**
 * Content equality of two images, as {@code qemu-img compare} judges it: the first differing
 * 512-byte sector, where what one image holds beyond the other's end must read as zeros. Ranges
 * both know as zeros are skipped unread.
 */
public final class VolumeComparison {
    private static final int BUFFER = 2 << 20;
    private static final int SECTOR = 512;

    private VolumeComparison() {
    }

    /** The offset of the first sector that differs, or empty when the contents are identical. */
    public static OptionalLong firstMismatch(VolumeSource a, VolumeSource b, Progress progress) throws IOException {
        ByteBuffer bufA = ByteBuffer.allocateDirect(BUFFER);
        ByteBuffer bufB = ByteBuffer.allocateDirect(BUFFER);
        long common = Math.min(a.size(), b.size());
        long total = Math.max(a.size(), b.size());
        long pos = 0;
        while (pos < common) {
            long zerosA = a.zerosEnd(pos);
            long zerosB = b.zerosEnd(pos);
            if (zerosA > pos && zerosB > pos) {
                pos = Math.min(common, Math.min(zerosA, zerosB));
                continue;
            }
            int n = (int) Math.min(BUFFER, common - pos);
            a.read(pos, bufA.clear().limit(n));
            b.read(pos, bufB.clear().limit(n));
            int at = bufA.flip().mismatch(bufB.flip());
            if (at >= 0) {
                return OptionalLong.of((pos + at) / SECTOR * SECTOR);
            }
            pos += n;
            progress.at(pos, total);
        }
        OptionalLong tail = nonZero(a.size() > common ? a : b, common, bufA, progress, total);
        progress.finish();
        return tail;
    }

    /** The first sector of {@code v} from {@code from} on that holds a non-zero byte. */
    private static OptionalLong nonZero(VolumeSource v, long from, ByteBuffer buf, Progress progress, long total)
            throws IOException {
        long pos = from;
        while (pos < v.size()) {
            long zeros = v.zerosEnd(pos);
            if (zeros > pos) {
                pos = zeros;
                continue;
            }
            int n = (int) Math.min(BUFFER, v.size() - pos);
            v.read(pos, buf.clear().limit(n));
            int at = buf.flip().mismatch(ByteBuffer.allocate(n));
            if (at >= 0) {
                return OptionalLong.of((pos + at) / SECTOR * SECTOR);
            }
            pos += n;
            progress.at(pos, total);
        }
        return OptionalLong.empty();
    }
}
