/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.util.Arrays;

/**
 * The volume chunks the journal names, each with its table entry (data chunk + 1, or 0), for a
 * space read without its whole table: the table pages fill in the checkpointed entries as they
 * stream past, the journal replay then updates them, and a view lays them over each window of the
 * table it reads. Sized by the journal (at most one per 16 journal bytes), not by the volume.
 */
final class JournalChunks {
    private final long[] chunks;
    private final int[] entries;

    /** The distinct chunks of {@code named} (any order, repeats allowed), all unmapped so far. */
    JournalChunks(long[] named) {
        long[] sorted = named.clone();
        Arrays.sort(sorted);
        int n = 0;
        for (int i = 0; i < sorted.length; i++) {
            if (n == 0 || sorted[i] != sorted[n - 1]) {
                sorted[n++] = sorted[i];
            }
        }
        this.chunks = Arrays.copyOf(sorted, n);
        this.entries = new int[n];
    }

    int entry(long chunk) {
        return entries[indexOf(chunk)];
    }

    void set(long chunk, int entry) {
        entries[indexOf(chunk)] = entry;
    }

    /** Takes the entries of chunks {@code [from, from + n)} from {@code table[at, at + n)}. */
    void takeFrom(long from, int n, int[] table, int at) {
        for (int i = firstAtOrAfter(from); i < chunks.length && chunks[i] < from + n; i++) {
            entries[i] = table[at + (int) (chunks[i] - from)];
        }
    }

    /**
     * Lays the entries of chunks {@code [from, from + n)} over {@code table[at, at + n)}, unmapped
     * ones too: an unmap entry, or a refused page entry, overrides the checkpointed table.
     */
    void overlay(long from, int n, int[] table, int at) {
        for (int i = firstAtOrAfter(from); i < chunks.length && chunks[i] < from + n; i++) {
            table[at + (int) (chunks[i] - from)] = entries[i];
        }
    }

    private int indexOf(long chunk) {
        int i = Arrays.binarySearch(chunks, chunk);
        if (i < 0) {
            throw new IllegalArgumentException("chunk " + chunk + " is not named by the journal");
        }
        return i;
    }

    private int firstAtOrAfter(long chunk) {
        int i = Arrays.binarySearch(chunks, chunk);
        return i >= 0 ? i : -i - 1;
    }
}
