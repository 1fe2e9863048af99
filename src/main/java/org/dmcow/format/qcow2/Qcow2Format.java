/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

import org.dmcow.format.BaseImage;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.FormatTarget;
import org.dmcow.format.Runs;
import org.dmcow.format.SpaceInfo;
import org.dmcow.host.ImageLock;

/**
 * QEMU's qcow2 as a CoW space: a version 3 image, cluster size = chunk size, 16-bit refcounts,
 * the base as its raw backing file. See docs/format-qcow2.md.
 */
public final class Qcow2Format implements CowFormat {
    public static final String NAME = "qcow2";
    static final long MIN_CHUNK = 4096;
    static final long MAX_CHUNK = 2L << 20;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void create(CreateRequest request) throws IOException, FormatException {
        Path cow = request.cow();
        long cs = request.chunkSize();
        if (cs < MIN_CHUNK || cs > MAX_CHUNK || Long.bitCount(cs) != 1) {
            throw new FormatException(cow + ": qcow2 chunk (cluster) size " + cs
                    + " must be a power of two from 4 KiB to 2 MiB");
        }
        if (request.size().isPresent()) {
            throw new FormatException(cow + ": a qcow2 CoW space grows as needed; a size does not apply");
        }
        try (ImageLock target = FormatTarget.claim(request)) {
            write(request);
        }
    }

    /** Writes a fresh image on a target {@link FormatTarget#claim} allowed. */
    private static void write(CreateRequest request) throws IOException, FormatException {
        Path cow = request.cow();
        long cs = request.chunkSize();
        if (Files.exists(cow) && !Files.isRegularFile(cow)) {
            throw new FormatException(cow + ": a qcow2 CoW space must be a regular file");
        }
        long size = request.base().size();
        if (size <= 0) {
            throw new FormatException(cow + ": base " + request.base().path() + " is empty");
        }
        if (size % 512 != 0) {
            // QEMU reads a qcow2 size in whole sectors and would cut the last partial one off
            throw new FormatException(cow + ": base " + request.base().path() + " is " + size
                    + " bytes, not a whole number of 512-byte sectors, which qcow2 needs");
        }
        String backing = request.base().path().toAbsolutePath().toString();
        int bits = Long.numberOfTrailingZeros(cs);
        long l2Entries = cs / 8;
        long l1Size = (size + cs * l2Entries - 1) / (cs * l2Entries);
        if (l1Size > (32L << 20) / 8) {
            throw new FormatException(cow + ": base of " + size + " bytes needs an L1 table larger than 32 MiB; "
                    + "use a larger chunk size");
        }
        long l1Clusters = (8 * l1Size + cs - 1) / cs;
        long perBlock = cs / 2;
        // size the refcount table for a full volume plus its metadata and some leaks: no relocation in use;
        // each L2 table may be followed by a run's alignment gap, and the last group's run is whole
        long volumeClusters = (size + cs - 1) / cs;
        long expected = volumeClusters + Qcow2Space.GROUP_CHUNKS * (l1Size + 1) + l1Clusters + 64;
        long tableBlocks = (expected + expected / 4) / perBlock + 2;
        long tableClusters = (8 * tableBlocks + cs - 1) / cs;
        long blocks = 1;
        while (blocks * perBlock < 1 + tableClusters + blocks + l1Clusters) {
            blocks++;
        }
        long l1Cluster = 1 + tableClusters + blocks;
        long used = l1Cluster + l1Clusters;

        ByteBuffer h;
        try {
            h = Qcow2ImageWriter.header(cs, size, (int) l1Size, l1Cluster * cs, cs, (int) tableClusters,
                    Optional.of(backing));
        } catch (FormatException e) {
            throw new FormatException(cow + ": base path " + request.base().path() + " is too long for a qcow2 header");
        }

        if (Files.exists(cow)) {
            Files.write(cow, new byte[0]); // a forced overwrite starts from an empty file
        }
        try (FileCowStore store = FileCowStore.open(cow, true, null)) {
            store.grow(used * cs);
            Qcow2Refcounts refcounts = Qcow2Refcounts.fresh(store, bits, cs, tableClusters);
            refcounts.initialise(1 + tableClusters, blocks, used);
            store.write(ByteBuffer.allocate((int) (l1Clusters * cs)), l1Cluster * cs);
            store.write(h, 0);
            store.flush();
        }
    }

    @Override
    public CowSpace open(CowStore store, BaseImage base) throws IOException, FormatException {
        Qcow2Header h = Qcow2Header.read(store);
        h.requireServable();
        requireBase(h, base);
        Qcow2Space space = Qcow2Space.load(store, h);
        if (store.size() < space.dataEnd()) {
            store.grow(space.dataEnd());
        }
        return space;
    }

    @Override
    public CowSpace view(CowStore store, BaseImage base) throws IOException, FormatException {
        Qcow2Header h = Qcow2Header.read(store);
        h.requireServable();
        requireBase(h, base);
        return Qcow2Space.load(store, h);
    }

    /**
     * A qcow2 image read on its own, whatever its backing file (compare's other image): its tables
     * as a view, and its backing file (as recorded, relative names against the image's folder) with
     * the format the image declares for it, if any.
     */
    public record Image(CowSpace view, Optional<Path> backing, Optional<String> backingFormat) {
    }

    /** Reads the image in {@code store}, refusing what cannot be read correctly; the caller owns the store. */
    public static Image readImage(CowStore store) throws IOException, FormatException {
        Qcow2Header h = Qcow2Header.read(store);
        h.requireReadable();
        return new Image(Qcow2Space.load(store, h), h.backingFile.map(name -> backingPath(h, name)),
                h.backingFormat);
    }

    private static Path backingPath(Qcow2Header h, String name) {
        Path backing = Path.of(name);
        return backing.isAbsolute() ? backing : h.file.toAbsolutePath().getParent().resolve(backing);
    }

    /** The backing file must be the configured base (by real path) and the sizes must agree. */
    static void requireBase(Qcow2Header h, BaseImage base) throws IOException, FormatException {
        String name = h.backingFile.orElseThrow();
        Path backing = backingPath(h, name);
        Path backingReal;
        Path baseReal;
        try {
            backingReal = backing.toRealPath();
        } catch (NoSuchFileException e) {
            throw new FormatException(h.file + ": qcow2 backing file " + name + " (" + backing + ") does not exist");
        }
        try {
            baseReal = base.path().toRealPath();
        } catch (NoSuchFileException e) {
            throw new FormatException(h.file + ": base " + base.path() + " does not exist");
        }
        if (!backingReal.equals(baseReal)) {
            throw new FormatException(h.file + ": qcow2 backing file " + name + " is " + backingReal
                    + ", not the configured base " + baseReal);
        }
        if (h.size != base.size()) {
            throw new FormatException(h.file + ": qcow2 virtual size " + h.size + " differs from the base size "
                    + base.size() + " of " + base.path());
        }
    }

    /** Any qcow2 file, even one this format refuses to serve, so that check can say why. */
    @Override
    public boolean recognises(CowStore store) throws IOException {
        if (store.size() < 4) {
            return false;
        }
        ByteBuffer magic = ByteBuffer.allocate(4);
        store.read(magic, 0);
        return magic.getInt(0) == Qcow2Header.MAGIC;
    }

    @Override
    public CheckReport check(CowStore store, Optional<BaseImage> base) throws IOException {
        return Qcow2Check.check(store, base);
    }

    @Override
    public long chunkSize(CowStore store) throws IOException, FormatException {
        return Qcow2Header.read(store).clusterSize();
    }

    @Override
    public SpaceInfo info(CowStore store) throws IOException, FormatException {
        Qcow2Header h = Qcow2Header.read(store);
        h.requireServable();
        Qcow2Space space = Qcow2Space.load(store, h);
        CowSpace.SpaceUsage usage = space.usage();
        return new SpaceInfo(name(), space.chunkSize(), space.volumeSize(), store.size(), usage.usedChunks(),
                usage.freeChunks(), usage.mappings(), Runs.count(space), h.backingFile);
    }
}
