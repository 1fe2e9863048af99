/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.SpaceFullException;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Placement and accounting of an open space under random place, release, adopt, commit and
 * growth (reopen on a bigger store): no place handed out twice, used + free == capacity, and used
 * equals what is reserved or committed.
 */
class NativeSpacePropertyTest {
    private static final long CHUNK = 4096;
    private static final int VOLUME_CHUNKS = 1500;
    private static Path dir;
    private static FileBaseImage base;
    private static MemoryCowStore formatted;

    @BeforeContainer
    static void formatOnce() throws Exception {
        dir = Files.createTempDirectory("native-props");
        Path b = TestSpaces.base(dir, "base", VOLUME_CHUNKS * CHUNK, 3);
        Path cow = dir.resolve("cow");
        TestSpaces.format(b, cow, CHUNK, 16384);
        base = FileBaseImage.open(b);
        formatted = MemoryCowStore.of(cow);
    }

    @AfterContainer
    static void cleanUp() throws Exception {
        base.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Property(tries = 40)
    void placesAreNeverSharedAndAccountingIsExact(@ForAll long seed) throws Exception {
        Random rnd = new Random(seed);
        MemoryCowStore store = formatted.copy();
        Superblock sb = Superblock.decode(slot0(store)).superblock();
        // Start with a thin data area of 200 chunks; growth adds more.
        store = shrunk(store, sb, 200);
        CowSpace space = new NativeFormat().open(store, base);
        Map<Long, Long> reserved = new HashMap<>();
        Map<Long, Long> committed = new HashMap<>();
        long capacity = 200;
        for (int step = 0; step < 400; step++) {
            int op = rnd.nextInt(100);
            long v = rnd.nextInt(VOLUME_CHUNKS);
            if (op < 60) {
                if (committed.containsKey(v) || reserved.containsKey(v)) {
                    continue;
                }
                try {
                    reserved.put(v, space.place(v).place());
                } catch (SpaceFullException e) {
                    assertEquals(capacity, reserved.size() + committed.size());
                }
            } else if (op < 70 && !reserved.isEmpty()) {
                long r = new ArrayList<>(reserved.keySet()).get(rnd.nextInt(reserved.size()));
                space.release(r);
                reserved.remove(r);
            } else if (op < 90 && !reserved.isEmpty()) {
                List<CowSpace.Mapping> group = new ArrayList<>();
                for (Map.Entry<Long, Long> e : reserved.entrySet()) {
                    if (rnd.nextBoolean()) {
                        group.add(new CowSpace.Mapping(e.getKey(), e.getValue()));
                    }
                }
                space.commit(group);
                for (CowSpace.Mapping m : group) {
                    committed.put(m.volumeChunk(), reserved.remove(m.volumeChunk()));
                }
            } else if (op < 95) {
                // Restart: reservations are lost with the process; the kernel's are adopted back.
                List<Map.Entry<Long, Long>> held = new ArrayList<>(reserved.entrySet());
                reserved.clear();
                if (rnd.nextBoolean()) {
                    capacity += rnd.nextInt(50);
                    store.grow(sb.dataOffset() + capacity * CHUNK);
                }
                space = new NativeFormat().open(store, base);
                for (Map.Entry<Long, Long> e : held) {
                    if (rnd.nextBoolean()) {
                        space.adopt(e.getKey(), e.getValue());
                        reserved.put(e.getKey(), e.getValue());
                    }
                }
            }
            Set<Long> places = new HashSet<>(committed.values());
            for (long p : reserved.values()) {
                assertTrue(places.add(p), "place " + p + " handed out twice (seed " + seed + ")");
            }
            CowSpace.SpaceUsage u = space.usage();
            assertEquals(capacity, u.usedChunks() + u.freeChunks(), "seed " + seed);
            assertEquals(places.size(), u.usedChunks(), "seed " + seed);
            assertEquals(committed.size(), u.mappings(), "seed " + seed);
            for (Map.Entry<Long, Long> e : committed.entrySet()) {
                assertEquals(e.getValue(), space.committedPlace(e.getKey()));
            }
        }
    }

    private static java.nio.ByteBuffer slot0(MemoryCowStore store) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(Superblock.LENGTH);
        store.read(b, 0);
        return b.flip();
    }

    /** The same space on a store cut to {@code dataChunks} chunks of data area (superblocks rewritten). */
    private static MemoryCowStore shrunk(MemoryCowStore store, Superblock sb, long dataChunks) throws Exception {
        MemoryCowStore small = new MemoryCowStore(store.path(), new HashMap<>(), 0);
        java.nio.ByteBuffer meta = java.nio.ByteBuffer.allocate((int) sb.dataOffset());
        store.read(meta, 0);
        small.write(meta.flip(), 0);
        Superblock thin = new Superblock(sb.version(), sb.incompatFeatures(), sb.compatFeatures(), sb.uuid(),
                sb.generation(), sb.chunkSize(), sb.baseSize(), sb.baseIdentity(), sb.journalOffset(),
                sb.journalSize(), sb.tableOffset(), sb.tablePages(), sb.dataOffset(), dataChunks);
        small.write(thin.encode(), 0);
        small.write(thin.encode(), Superblock.SLOT_SIZE);
        small.grow(sb.dataOffset() + dataChunks * CHUNK);
        return small;
    }
}
