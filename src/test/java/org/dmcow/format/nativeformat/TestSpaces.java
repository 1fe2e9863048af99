/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;

/** Bases and formatted spaces for the native format's tests. */
final class TestSpaces {
    private TestSpaces() {
    }

    /** A sparse base file of {@code size} bytes with {@code tag} in its first, middle and last blocks. */
    static Path base(Path dir, String name, long size, int tag) throws IOException {
        Path p = dir.resolve(name);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long at : new long[] {0, size / 2 / 4096 * 4096, size - 4096}) {
                ByteBuffer b = ByteBuffer.allocate(4096);
                while (b.hasRemaining()) {
                    b.putInt(tag);
                }
                ch.write(b.flip(), at);
            }
        }
        return p;
    }

    /** Formats {@code cow} for {@code base} with the given chunk and journal size; default space size. */
    static void format(Path base, Path cow, long chunk, long journal) throws Exception {
        try (FileBaseImage b = FileBaseImage.open(base)) {
            new NativeFormat(journal).create(new CowFormat.CreateRequest(cow, b, chunk, OptionalLong.empty(), false));
        }
    }

    /** Opens the native space {@code cow} over {@code base} for writing. */
    static CowSpace open(Path base, Path cow) throws Exception {
        try (FileBaseImage b = FileBaseImage.open(base)) {
            return new NativeFormat().open(org.dmcow.format.FileCowStore.open(cow, false, null), b);
        }
    }

    /** The committed mappings as an array indexed by volume chunk (-1: unmapped). */
    static long[] mappings(CowSpace space) {
        long[] m = new long[(int) space.volumeChunks()];
        java.util.Arrays.fill(m, -1);
        space.forEachMapping((v, place) -> m[(int) v] = place);
        return m;
    }
}
