package org.dmcow.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.host.BlockDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileCowStoreTest {
    @TempDir
    Path dir;

    @Test
    void writesReadBackAndReadsPastTheEndAsZeros() throws IOException {
        try (FileCowStore s = FileCowStore.open(dir.resolve("cow"), true, null)) {
            s.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 4096);
            s.flush();
            assertEquals(4099, s.size());
            ByteBuffer b = ByteBuffer.allocate(6);
            s.read(b, 4096);
            assertArrayEquals(new byte[] {1, 2, 3, 0, 0, 0}, b.array());
        }
    }

    @Test
    void growExtendsTheFileAndTellsTheListenerItsSizeEachTime() throws IOException {
        List<Long> told = new ArrayList<>();
        Path p = dir.resolve("cow");
        try (FileCowStore s = FileCowStore.open(p, true, told::add)) {
            s.grow(1 << 20);
            s.grow(4096); // smaller: the file stays, the listener hears its size again
            assertEquals(1 << 20, s.size());
            try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(2 << 20); // grown by other means
            }
            s.grow(0);
            assertEquals(List.of(1L << 20, 1L << 20, 2L << 20), told);
        }
    }

    @Test
    void aFilesRoomIsItsFilesystemsAndItKnowsWhenEveryBlockIsAllocated() throws IOException {
        Path p = dir.resolve("cow");
        try (FileCowStore s = FileCowStore.open(p, true, null)) {
            s.grow(64 << 20);
            assertEquals(Files.getFileStore(p).getUsableSpace(), s.room(), 64 << 20); // others write there too
            assertFalse(s.preallocated());
            long before = s.room();
            s.write(ByteBuffer.allocate(64 << 20), 0); // every block written
            s.flush();
            assertTrue(s.preallocated());
            // the room is the filesystem's now, not when it was first asked
            assertTrue(before - s.room() >= 16 << 20, "room " + before + " before 64 MiB were written, " + s.room()
                    + " after");
        }
    }

    @Test
    void readOnlyRefusesWrites() throws IOException {
        Path p = dir.resolve("cow");
        FileCowStore.open(p, true, null).close();
        try (FileCowStore s = FileCowStore.openReadOnly(p)) {
            IOException e = assertThrows(IOException.class, () -> s.write(ByteBuffer.allocate(1), 0));
            assertEquals(p + ": opened read-only", e.getMessage());
        }
    }

    @Test
    void regularFileIsNotABlockDevice() throws IOException {
        Path p = dir.resolve("f");
        FileCowStore.open(p, true, null).close();
        assertEquals(false, BlockDevices.isBlockDevice(p));
    }
}
