/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

/**
 * Which data chunks are in use, with the longest free run found in O(log n): a bitmap (bit set:
 * used) under a segment tree of free runs per 64-chunk word. About 2.2 bits per chunk, so a
 * 16 M-chunk data area costs about 5 MB.
 */
final class FreeSpace {
    private long chunks;
    private long free;
    private long[] words;
    private int leaves;
    // Per tree node: free run at its low end, at its high end, and the longest inside (in chunks).
    private int[] prefix;
    private int[] suffix;
    private int[] longest;

    FreeSpace(long chunks) {
        this.chunks = chunks;
        this.words = new long[(int) ((chunks + 63) / 64)];
        this.free = chunks;
        markTail();
        rebuild();
    }

    long chunks() {
        return chunks;
    }

    long free() {
        return free;
    }

    boolean used(long chunk) {
        return (words[(int) (chunk >>> 6)] & (1L << chunk)) != 0;
    }

    void use(long chunk) {
        markUsedDeferred(chunk);
        update((int) (chunk >>> 6));
    }

    void release(long chunk) {
        int w = (int) (chunk >>> 6);
        if ((words[w] & (1L << chunk)) == 0) {
            throw new IllegalStateException("data chunk " + chunk + " is already free");
        }
        words[w] &= ~(1L << chunk);
        free++;
        update(w);
    }

    /** Marks a chunk used without updating the tree; call {@link #rebuild} after a batch. */
    void markUsedDeferred(long chunk) {
        int w = (int) (chunk >>> 6);
        if ((words[w] & (1L << chunk)) != 0) {
            throw new IllegalStateException("data chunk " + chunk + " is already in use");
        }
        words[w] |= 1L << chunk;
        free--;
    }

    /** Extends the area to {@code newChunks}; the new chunks are free. */
    void grow(long newChunks) {
        if (newChunks <= chunks) {
            return;
        }
        long[] grown = java.util.Arrays.copyOf(words, (int) ((newChunks + 63) / 64));
        for (long c = chunks; c < Math.min(newChunks, (long) words.length * 64); c++) {
            grown[(int) (c >>> 6)] &= ~(1L << c);
        }
        free += newChunks - chunks;
        chunks = newChunks;
        words = grown;
        markTail();
        rebuild();
    }

    /** The longest run of free chunks as {start, length}, or null when none is free. */
    long[] longestFreeRun() {
        int want = longest[1];
        if (want == 0) {
            return null;
        }
        int node = 1;
        long start = 0;
        long length = (long) leaves * 64;
        while (node < leaves) {
            int left = 2 * node;
            long half = length / 2;
            if (longest[left] >= want) {
                node = left;
            } else if (suffix[left] + prefix[left + 1] >= want) {
                return new long[] {start + half - suffix[left], want};
            } else {
                node = left + 1;
                start += half;
            }
            length = half;
        }
        long word = words[node - leaves];
        int run = 0;
        for (int bit = 0; bit < 64; bit++) {
            run = (word & (1L << bit)) == 0 ? run + 1 : 0;
            if (run == want) {
                return new long[] {start + bit - want + 1, want};
            }
        }
        throw new IllegalStateException("free-run tree disagrees with the bitmap");
    }

    /** Bits past the last chunk count as used, so no run extends past the end. */
    private void markTail() {
        if (chunks % 64 != 0) {
            words[words.length - 1] |= -1L << (chunks % 64);
        }
    }

    void rebuild() {
        leaves = Integer.highestOneBit(Math.max(1, words.length));
        if (leaves < words.length) {
            leaves *= 2;
        }
        prefix = new int[2 * leaves];
        suffix = new int[2 * leaves];
        longest = new int[2 * leaves];
        for (int i = 0; i < leaves; i++) {
            setLeaf(i);
        }
        int length = 64;
        for (int level = leaves / 2; level >= 1; level /= 2) {
            for (int node = level; node < 2 * level; node++) {
                combine(node, length);
            }
            length *= 2;
        }
    }

    private void update(int word) {
        setLeaf(word);
        int length = 64;
        for (int node = (word + leaves) / 2; node >= 1; node /= 2) {
            combine(node, length);
            length *= 2;
        }
    }

    private void setLeaf(int i) {
        long word = i < words.length ? words[i] : -1L;
        int node = leaves + i;
        prefix[node] = Long.numberOfTrailingZeros(word);
        suffix[node] = Long.numberOfLeadingZeros(word);
        int run = 0;
        for (long freeBits = ~word; freeBits != 0; freeBits &= freeBits << 1) {
            run++;
        }
        longest[node] = run;
    }

    /** Combines the children of {@code node}, each {@code childLength} chunks long. */
    private void combine(int node, int childLength) {
        int l = 2 * node;
        int r = l + 1;
        prefix[node] = prefix[l] == childLength ? childLength + prefix[r] : prefix[l];
        suffix[node] = suffix[r] == childLength ? childLength + suffix[l] : suffix[r];
        longest[node] = Math.max(Math.max(longest[l], longest[r]), suffix[l] + prefix[r]);
    }
}
