/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** The free-run tree against a plain boolean model, under random use, release and growth. */
class FreeSpacePropertyTest {
    @Property(tries = 200)
    void longestRunAndCountsMatchAModel(@ForAll long seed, @ForAll @IntRange(min = 1, max = 700) int chunks) {
        Random rnd = new Random(seed);
        FreeSpace free = new FreeSpace(chunks);
        boolean[] used = new boolean[4000];
        int n = chunks;
        for (int step = 0; step < 300; step++) {
            int op = rnd.nextInt(20);
            if (op == 0 && n < 3900) {
                n += rnd.nextInt(100);
                free.grow(n);
            } else {
                int c = rnd.nextInt(n);
                if (used[c]) {
                    free.release(c);
                } else {
                    free.use(c);
                }
                used[c] = !used[c];
            }
            int freeCount = 0;
            int longest = 0;
            int run = 0;
            for (int c = 0; c < n; c++) {
                assertEquals(used[c], free.used(c));
                run = used[c] ? 0 : run + 1;
                freeCount += used[c] ? 0 : 1;
                longest = Math.max(longest, run);
            }
            assertEquals(freeCount, free.free());
            assertEquals(n, free.chunks());
            long[] found = free.longestFreeRun();
            if (longest == 0) {
                assertNull(found);
                continue;
            }
            assertEquals(longest, found[1]);
            for (long c = found[0]; c < found[0] + found[1]; c++) {
                assertTrue(c < n && !used[(int) c], "run " + found[0] + "+" + found[1] + " covers used chunk " + c);
            }
        }
    }
}
