/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.Runs;

/**
 * Prints placement and commit throughput, open time and segment counts for random faults on a
 * sparse base. Run: {@code java -cp target/classes:target/test-classes
 * org.dmcow.format.qcow2.Qcow2Benchmark [dir]}.
 */
public final class Qcow2Benchmark {
    private Qcow2Benchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory(args.length > 0 ? Path.of(args[0]) : Path.of("/tmp"), "qcow2bench");
        Path basePath = dir.resolve("base.raw");
        try (RandomAccessFile f = new RandomAccessFile(basePath.toFile(), "rw")) {
            f.setLength(4L << 30);
        }
        try {
            for (long chunk : new long[] {4096, 65536}) {
                run(dir, basePath, chunk, 50_000, 256);
            }
        } finally {
            Files.delete(basePath);
            Files.delete(dir);
        }
    }

    private static void run(Path dir, Path basePath, long chunk, int faults, int batch) throws Exception {
        Path cow = dir.resolve("cow-" + chunk + ".qcow2");
        Qcow2Format format = new Qcow2Format();
        Random rnd = new Random(1);
        try (FileBaseImage base = FileBaseImage.open(basePath)) {
            format.create(new CowFormat.CreateRequest(cow, base, chunk, OptionalLong.empty(), false));
            long chunks = base.size() / chunk;
            long placeNanos = 0;
            long commitNanos = 0;
            int commits = 0;
            try (FileCowStore store = FileCowStore.open(cow, false, null);
                    CowSpace space = format.open(store, base)) {
                List<CowSpace.Mapping> pending = new ArrayList<>();
                for (int i = 0; i < faults; i++) {
                    long c = Math.floorMod(rnd.nextLong(), chunks);
                    if (space.committedPlace(c) >= 0 || pending.stream().anyMatch(m -> m.volumeChunk() == c)) {
                        continue;
                    }
                    long t0 = System.nanoTime();
                    pending.add(new CowSpace.Mapping(c, space.place(c).place()));
                    placeNanos += System.nanoTime() - t0;
                    if (pending.size() == batch) {
                        long t1 = System.nanoTime();
                        space.commit(pending);
                        commitNanos += System.nanoTime() - t1;
                        commits++;
                        pending.clear();
                    }
                }
                space.commit(pending);
            }
            long t2 = System.nanoTime();
            long segments;
            long mappings;
            try (FileCowStore store = FileCowStore.openReadOnly(cow); CowSpace space = format.open(store, base)) {
                long openNanos = System.nanoTime() - t2;
                mappings = space.usage().mappings();
                segments = Runs.count(space);
                System.out.printf("chunk %d: %d mappings; place %.1f us each; commit of %d %.2f ms each; "
                        + "open %.1f ms; %d segments; file %d MiB%n", chunk, mappings, placeNanos / 1e3 / faults,
                        batch, commitNanos / 1e6 / Math.max(1, commits), openNanos / 1e6, segments,
                        Files.size(cow) >> 20);
            }
            Files.delete(cow);
        }
    }
}
