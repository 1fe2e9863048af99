/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash at every write of every commit, the write cut at every sector boundary (or dropped), and
 * again with a random part of the earlier writes not yet flushed lost (a volatile cache): reopening
 * must give exactly the mappings before or after that commit, over random sequences of journal
 * commits (with unmaps, their places freed and reused), checkpoints (small journal) and groups too
 * big for the journal.
 */
class NativeCrashTest {
    private static final long CHUNK = 4096;
    /** 4100 chunks: five table pages, the last one partial. */
    private static final long BASE_SIZE = 4100 * CHUNK;

    @TempDir
    static Path dir;
    private static FileBaseImage base;
    private static MemoryCowStore formatted;

    @BeforeAll
    static void formatOnce() throws Exception {
        Path b = TestSpaces.base(dir, "base", BASE_SIZE, 7);
        Path cow = dir.resolve("cow");
        TestSpaces.format(b, cow, CHUNK, 4096);
        base = FileBaseImage.open(b);
        formatted = MemoryCowStore.of(cow);
    }

    @AfterAll
    static void closeBase() throws Exception {
        base.close();
    }

    @Test
    void everyCutOfEveryCommitRecoversBeforeOrAfter() throws Exception {
        long seeds = Long.getLong("crash.seeds", 24);
        long images = 0;
        for (long seed = 1; seed <= seeds; seed++) {
            try {
                images += run(seed);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("crash simulation failed with seed " + seed + ": " + e.getMessage(), e);
            }
        }
        System.out.println("NativeCrashTest: " + seeds + " sequences, " + images + " crash images reopened");
        assertTrue(images > 1000, "the simulation exercised few crash points: " + images);
    }

    private long run(long seed) throws Exception {
        Random rnd = new Random(seed);
        MemoryCowStore store = formatted.copy();
        CowSpace space = new NativeFormat().open(store, base);
        int volumeChunks = (int) space.volumeChunks();
        long images = 0;
        for (int commit = 0; commit < 40; commit++) {
            // A group: some runs of neighbours and some scattered chunks; a few reservations released.
            int size = rnd.nextInt(10) == 0 ? 260 + rnd.nextInt(200) : 1 + rnd.nextInt(40);
            List<CowSpace.Mapping> group = new ArrayList<>();
            int v = rnd.nextInt(volumeChunks);
            while (group.size() < size) {
                v = rnd.nextInt(4) == 0 ? rnd.nextInt(volumeChunks) : (v + 1) % volumeChunks;
                if (contains(group, v)) {
                    continue;
                }
                if (space.committedPlace(v) >= 0) {
                    if (rnd.nextInt(6) == 0) {
                        group.add(new CowSpace.Mapping(v, CowSpace.UNMAPPED)); // discarded
                    }
                    continue;
                }
                long place = space.place(v).place();
                if (rnd.nextInt(8) == 0) {
                    space.release(v);
                } else {
                    group.add(new CowSpace.Mapping(v, place));
                }
            }
            long[] before = TestSpaces.mappings(space);
            MemoryCowStore snapshot = store.copy();
            store.record();
            space.commit(group);
            long[] after = TestSpaces.mappings(space);
            assertEquals(Arrays.stream(after).filter(p -> p >= 0).count(),
                    Arrays.stream(after).filter(p -> p >= 0).distinct().count(), "two chunks share a place");
            List<MemoryCowStore.Write> writes = store.recorded();
            MemoryCowStore chosen = null;
            int pick = rnd.nextInt(5) == 0 ? rnd.nextInt(writes.size()) : -1;
            if (pick >= 0 && writes.get(pick).flush()) {
                pick = -1;
            }
            for (int k = 0; k < writes.size(); k++) {
                if (writes.get(k).flush()) {
                    continue;
                }
                for (boolean loseUnflushed : new boolean[] {false, true}) {
                    MemoryCowStore prefix = snapshot.copy();
                    int lastFlush = -1;
                    for (int j = 0; j < k; j++) {
                        lastFlush = writes.get(j).flush() ? j : lastFlush;
                    }
                    boolean lost = false;
                    for (int j = 0; j < k; j++) {
                        MemoryCowStore.Write w = writes.get(j);
                        if (w.flush()) {
                            continue;
                        }
                        if (loseUnflushed && j > lastFlush && rnd.nextBoolean()) {
                            lost = true;
                            continue;
                        }
                        prefix.apply(w, w.bytes().length);
                    }
                    if (loseUnflushed && !lost) {
                        continue;
                    }
                    int length = writes.get(k).bytes().length;
                    for (int cut = 0; cut <= length; cut += MemoryCowStore.SECTOR) {
                        MemoryCowStore image = prefix.copy();
                        image.apply(writes.get(k), cut);
                        long[] got = TestSpaces.mappings(new NativeFormat().open(image, base));
                        // The offline view streams the table instead: it must recover the same.
                        assertArrayEquals(got, TestSpaces.mappings(new NativeFormat().view(image, base)));
                        images++;
                        if (!Arrays.equals(got, before) && !Arrays.equals(got, after)) {
                            fail("commit " + commit + ", write " + k + " of " + writes.size() + " cut at " + cut
                                    + " bytes" + (lost ? ", some unflushed writes lost" : "")
                                    + ": recovered mappings are neither the state before nor after the commit");
                        }
                        if (k == pick && cut == 0) {
                            chosen = image;
                        }
                    }
                }
            }
            if (rnd.nextBoolean()) {
                space.freePlaces(space.unmappedPlaces()); // a table reload completed: later groups reuse them
            }
            if (chosen != null) {
                // Carry on from a crash: recovery must leave a space that commits and crashes safely again.
                store = chosen;
                space = new NativeFormat().open(store, base);
            }
        }
        return images;
    }

    private static boolean contains(List<CowSpace.Mapping> group, long v) {
        for (CowSpace.Mapping m : group) {
            if (m.volumeChunk() == v) {
                return true;
            }
        }
        return false;
    }
}
