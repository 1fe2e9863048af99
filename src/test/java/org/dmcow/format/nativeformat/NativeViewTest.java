/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The offline view reads the table in windows of {@link NativeView#PAGES_PER_WINDOW} pages and lays
 * the journal over each: it must see exactly what open sees, across window edges, checkpointed and
 * journaled mappings alike.
 */
class NativeViewTest {
    private static final long CHUNK = 4096;
    private static final long WINDOW_CHUNKS = (long) NativeView.PAGES_PER_WINDOW * TablePage.ENTRIES;
    /** Three windows, the last one short and its last chunk partial. */
    private static final long BASE_SIZE = (2 * WINDOW_CHUNKS + 5000) * CHUNK + 123;

    @TempDir
    Path dir;

    @Test
    void viewSeesWhatOpenSeesAcrossWindowsAndTheJournal() throws Exception {
        Path base = TestSpaces.base(dir, "base", BASE_SIZE, 7);
        Path cow = dir.resolve("cow");
        TestSpaces.format(base, cow, CHUNK, 8192); // 16 one-mapping commits fill the journal: checkpoints
        long last = (BASE_SIZE + CHUNK - 1) / CHUNK - 1;
        long[] chunks = {0, 1, TablePage.ENTRIES - 1, TablePage.ENTRIES, WINDOW_CHUNKS - 1, WINDOW_CHUNKS,
            WINDOW_CHUNKS + 1, 2 * WINDOW_CHUNKS - 1, 2 * WINDOW_CHUNKS, last - 1, last};
        try (FileBaseImage b = FileBaseImage.open(base)) {
            try (CowSpace space = new NativeFormat().open(FileCowStore.open(cow, false, null), b)) {
                for (int i = 0; i < 40; i++) { // 40 commits: two checkpoints, then 6 commits in the journal
                    long v = i < chunks.length ? chunks[i] : 3 + 9973L * i;
                    space.commit(List.of(new CowSpace.Mapping(v, space.place(v).place())));
                }
            }
            long[] opened;
            CowSpace.SpaceUsage usage;
            try (CowSpace space = new NativeFormat().open(FileCowStore.open(cow, false, null), b)) {
                opened = TestSpaces.mappings(space);
                usage = space.usage();
            }
            try (FileCowStore store = FileCowStore.open(cow, false, null)) {
                CowSpace view = new NativeFormat().view(store, b);
                assertArrayEquals(opened, TestSpaces.mappings(view));
                assertEquals(usage, view.usage());
                assertEquals(40, view.usage().mappings());
                for (long v = last; v >= 0; v -= 997) { // backwards: every window read again
                    assertEquals(opened[(int) v], view.committedPlace(v), "chunk " + v);
                }
                assertThrows(UnsupportedOperationException.class, () -> view.place(5));
            }
        }
    }
}
