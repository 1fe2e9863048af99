/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.qcow2.Qcow2Format;
import org.dmcow.host.ImageLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A write that fails half way leaves the output as it was and no file behind, and says why. */
class InterruptedTransferTest {
    @TempDir
    Path dir;

    /** Writes into a raw sink and fails at its {@code failAt}-th data call, as a full disk would. */
    private static ImageSink failing(RawSink raw, int failAt) {
        return new ImageSink() {
            private int calls;

            @Override
            public void data(long start, ByteBuffer bytes) throws IOException {
                if (++calls == failAt) {
                    throw new IOException("No space left on device");
                }
                raw.data(start, bytes);
            }

            @Override
            public void zeros(long start, long length) {
            }

            @Override
            public void finish() throws IOException {
                raw.finish();
            }

            @Override
            public long outputBytes() throws IOException {
                return raw.outputBytes();
            }

            @Override
            public void close() throws IOException {
                raw.close();
            }
        };
    }

    @Test
    void aFailedFlattenLeavesTheOldOutputAndNoHiddenFile() throws Exception {
        Path base = GuestImages.base(dir);
        Path overlay = GuestImages.overlay(dir, base);
        Path out = dir.resolve("golden.img");
        Files.writeString(out, "the previous golden image");
        ImageLock lock = OfflineSpace.claim(overlay, ImageLock.Use.READ);
        FileCowStore store = FileCowStore.openReadOnly(overlay);
        try (OfflineSpace space = OfflineSpace.open(overlay, new Qcow2Format(), store, FileBaseImage.open(base),
                lock); OutputFile output = OutputFile.claim(out, true, base, overlay)) {
            IOException e = assertThrows(IOException.class, () -> {
                try (ImageSink sink = failing(RawSink.create(output.temp(), space.volumeSize(), space.chunkSize()),
                        2)) {
                    Transfer.run(space, Transfer.Scope.WHOLE, sink, Progress.none());
                }
            });
            assertEquals("No space left on device", e.getMessage());
        }
        assertEquals("the previous golden image", Files.readString(out));
        try (Stream<Path> files = Files.list(dir)) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().contains(".dmcowctl-")));
        }
    }
}
