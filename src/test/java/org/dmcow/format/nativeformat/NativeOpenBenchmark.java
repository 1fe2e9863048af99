/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.Runs;

/**
 * Figures for the native format (prints, asserts nothing):
 * <ol>
 * <li>open time and heap of a fully mapped 1 TiB volume at 64 KiB chunks (16 M mappings), on
 * sparse files;</li>
 * <li>table segments after 100k random 4 KiB writes over a 16 GiB volume at 64 KiB chunks,
 * against the minimal number of runs of written chunks, for a full-size and thinner spaces.</li>
 * </ol>
 * Run: {@code java -cp target/classes:target/test-classes:DEPS
 * org.dmcow.format.nativeformat.NativeOpenBenchmark [dir]} (dir needs room for sparse files).
 */
public final class NativeOpenBenchmark {
    private static final long CHUNK = 64 * 1024;

    private NativeOpenBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory(Path.of(args.length > 0 ? args[0] : "/tmp"), "native-bench");
        try {
            openFullyMapped(dir);
            segments(dir);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void openFullyMapped(Path dir) throws Exception {
        long baseSize = 1L << 40;
        Path base = sparseBase(dir.resolve("base-1t"), baseSize);
        Path cow = dir.resolve("cow-1t");
        try (FileBaseImage b = FileBaseImage.open(base)) {
            new NativeFormat().create(new CowFormat.CreateRequest(cow, b, CHUNK, OptionalLong.empty(), false));
            long t0 = System.nanoTime();
            try (CowSpace space = new NativeFormat().open(FileCowStore.open(cow, false, null), b)) {
                int group = 65536;
                for (long v = 0; v < space.volumeChunks(); v += group) {
                    List<CowSpace.Mapping> mappings = new ArrayList<>(group);
                    for (long c = v; c < Math.min(space.volumeChunks(), v + group); c++) {
                        mappings.add(new CowSpace.Mapping(c, space.place(c).place()));
                    }
                    space.commit(mappings);
                }
                System.out.printf("filled %d mappings in %.1f s%n", space.usage().mappings(),
                        (System.nanoTime() - t0) / 1e9);
            }
            for (int i = 0; i < 3; i++) {
                String cache = i == 0 ? dropCache(cow) : "warm cache";
                System.gc();
                long heapBefore = usedHeap();
                long start = System.nanoTime();
                try (CowSpace space = new NativeFormat().open(FileCowStore.open(cow, false, null), b)) {
                    double seconds = (System.nanoTime() - start) / 1e9;
                    System.gc();
                    System.out.printf("open #%d of 1 TiB at 64 KiB chunks (%s), %d mappings: %.2f s, heap held by"
                            + " the open space %.0f MB, segments %d%n", i + 1, cache, space.usage().mappings(), seconds,
                            (usedHeap() - heapBefore) / 1e6, Runs.count(space));
                }
            }
        }
    }

    private static void segments(Path dir) throws Exception {
        long volume = 16L << 30;
        Path base = sparseBase(dir.resolve("base-16g"), volume);
        long volumeChunks = volume / CHUNK;
        for (double share : new double[] {1.0, 0.5, 0.35}) {
            Path cow = dir.resolve("cow-16g-" + share);
            try (FileBaseImage b = FileBaseImage.open(base)) {
                Superblock probe = Superblock.layout(new byte[16], CHUNK, volume, 0,
                        NativeFormat.DEFAULT_JOURNAL_SIZE, Long.MAX_VALUE);
                long size = probe.dataOffset() + (long) (volumeChunks * share) * CHUNK;
                new NativeFormat().create(new CowFormat.CreateRequest(cow, b, CHUNK, OptionalLong.of(size), false));
                try (CowSpace space = new NativeFormat().open(new UnsyncedStore(FileCowStore.open(cow, false, null)),
                        b)) {
                    Random rnd = new Random(42);
                    BitSet written = new BitSet();
                    for (int w = 0; w < 100_000; w++) {
                        long chunk = rnd.nextLong(volume / 4096) * 4096 / CHUNK;
                        if (!written.get((int) chunk)) {
                            written.set((int) chunk);
                            space.commit(List.of(new CowSpace.Mapping(chunk, space.place(chunk).place())));
                        }
                    }
                    long minimal = 0;
                    for (int c = written.nextSetBit(0); c >= 0; c = written.nextSetBit(c + 1)) {
                        minimal += c == 0 || !written.get(c - 1) ? 1 : 0;
                    }
                    long segments = Runs.count(space);
                    System.out.printf("16 GiB volume, data area %.0f%% of it, 100k random 4 KiB writes: %d chunks,"
                            + " %d segments, %d minimal runs, ratio %.3f%n", share * 100, written.cardinality(),
                            segments, minimal, (double) segments / minimal);
                }
            }
        }
    }

    /** Drops the file's pages from the page cache (GNU dd, this file only), so the next open reads the disk. */
    private static String dropCache(Path file) throws IOException, InterruptedException {
        Process dd = new ProcessBuilder("dd", "if=" + file, "iflag=nocache", "count=0").redirectErrorStream(true)
                .start();
        dd.getInputStream().readAllBytes();
        return dd.waitFor() == 0 ? "cold cache" : "cache not dropped";
    }

    private static Path sparseBase(Path p, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            f.write("benchmark base".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        return p;
    }

    private static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    /** A store whose flush does nothing: the segment figure needs placements, not durability. */
    private record UnsyncedStore(CowStore store) implements CowStore {
        @Override
        public Path path() {
            return store.path();
        }

        @Override
        public long size() throws IOException {
            return store.size();
        }

        @Override
        public void read(ByteBuffer dst, long position) throws IOException {
            store.read(dst, position);
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            store.write(src, position);
        }

        @Override
        public void flush() {
        }

        @Override
        public void grow(long newSize) throws IOException {
            store.grow(newSize);
        }

        @Override
        public void close() throws IOException {
            store.close();
        }
    }
}
