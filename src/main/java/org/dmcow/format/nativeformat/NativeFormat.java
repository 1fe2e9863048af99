/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.UUID;
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
import org.dmcow.host.BlockDevices;
import org.dmcow.host.ImageLock;

/** The native format: a superblock, a journal of mapping commits, a checkpointed table, data. */
public final class NativeFormat implements CowFormat {
    public static final String NAME = "native";
    /** Journal size of new spaces: 8 MiB holds about half a million mappings between checkpoints. */
    static final long DEFAULT_JOURNAL_SIZE = 8L << 20;
    private static final long MAX_CHUNK_SIZE = 1L << 30;

    private final long journalSize;

    public NativeFormat() {
        this(DEFAULT_JOURNAL_SIZE);
    }

    /** A format that lays out new spaces with a journal of {@code journalSize} bytes (tests use small ones). */
    NativeFormat(long journalSize) {
        this.journalSize = journalSize;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void create(CreateRequest request) throws IOException, FormatException {
        Path cow = request.cow();
        long chunk = request.chunkSize();
        if (chunk < 4096 || chunk > MAX_CHUNK_SIZE || Long.bitCount(chunk) != 1) {
            throw new FormatException(cow + ": chunk size " + chunk + " is not a power of two from 4k to 1G");
        }
        long baseSize = request.base().size();
        if (baseSize == 0) {
            throw new FormatException(cow + ": the base " + request.base().path() + " is empty");
        }
        try (ImageLock target = FormatTarget.claim(request)) {
            write(request, baseSize);
        }
    }

    /** Lays the space out on a target {@link FormatTarget#claim} allowed. */
    private void write(CreateRequest request, long baseSize) throws IOException, FormatException {
        Path cow = request.cow();
        long chunk = request.chunkSize();
        boolean fresh = FileCowStore.isNewFile(cow);
        boolean device = !fresh && BlockDevices.isBlockDevice(cow);
        Superblock probe = Superblock.layout(new byte[16], chunk, baseSize, 0, journalSize, Long.MAX_VALUE);
        long size;
        if (device) {
            size = BlockDevices.size(cow);
            if (request.size().isPresent() && request.size().getAsLong() != size) {
                throw new FormatException(cow + ": is a block device of " + size + " bytes; --size "
                        + request.size().getAsLong() + " cannot apply");
            }
        } else {
            long wanted = request.size().orElse(probe.dataOffset() + probe.volumeChunks() * chunk);
            size = fresh ? wanted : Math.max(wanted, Files.size(cow));
        }
        if (size < probe.dataOffset() + chunk) {
            throw new FormatException(cow + ": " + size + " bytes is too small: the metadata for this base takes "
                    + probe.dataOffset() + " bytes, plus at least one chunk of " + chunk);
        }
        byte[] uuid = uuidBytes();
        Superblock sb = Superblock.layout(uuid, chunk, baseSize, Superblock.baseIdentity(request.base()),
                journalSize, size);
        if (!fresh && !device) {
            // Truncating drops every old block, so nothing of an earlier space survives.
            try (FileChannel ch = FileChannel.open(cow, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.force(false);
            }
        }
        try (FileCowStore store = FileCowStore.open(cow, true, null)) {
            if (device) {
                zero(store, sb.tableOffset() + 2 * sb.tablePages() * TablePage.SIZE);
            } else {
                store.grow(size);
            }
            store.write(new CheckpointHeader(1, 0, 0).encode(uuid), Superblock.CHECKPOINT_OFFSET);
            store.flush();
            store.write(sb.encode(), 0);
            store.write(sb.encode(), Superblock.SLOT_SIZE);
            store.flush();
        } catch (IOException e) {
            if (fresh) {
                Files.deleteIfExists(cow); // no half-made space left behind
            }
            throw e;
        }
    }

    /** Zeros {@code [0, end)} of a device, so no block of an earlier space is read back. */
    private static void zero(CowStore store, long end) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
        for (long at = 0; at < end; at += zeros.capacity()) {
            store.write(zeros.clear().limit((int) Math.min(zeros.capacity(), end - at)), at);
        }
        store.flush();
    }

    private static byte[] uuidBytes() {
        UUID u = UUID.randomUUID();
        return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits())
                .array();
    }

    @Override
    public CowSpace open(CowStore store, BaseImage base) throws IOException, FormatException {
        SpaceState state = new SpaceReader(store, Findings.refuse(store.path())).read(Optional.of(base));
        NativeSpace space = new NativeSpace(store, state);
        space.grow(); // the file or device may have grown while no daemon served it
        return space;
    }

    @Override
    public CowSpace view(CowStore store, BaseImage base) throws IOException, FormatException {
        return new NativeView(store,
                new SpaceReader(store, Findings.refuse(store.path())).readWithoutTable(Optional.of(base)));
    }

    @Override
    public CheckReport check(CowStore store, Optional<BaseImage> base) throws IOException {
        Findings.Collected findings = new Findings.Collected();
        try {
            new SpaceReader(store, findings).read(base);
        } catch (FormatException e) {
            throw new IllegalStateException("a collecting check refused", e);
        }
        return new CheckReport(store.path(), NAME, findings.list);
    }

    @Override
    public SpaceInfo info(CowStore store) throws IOException, FormatException {
        SpaceState state = new SpaceReader(store, Findings.refuse(store.path())).readWithoutTable(Optional.empty());
        // A view for counting; not closed, since the caller owns the store.
        NativeView space = new NativeView(store, state);
        CowSpace.SpaceUsage usage = space.usage();
        return new SpaceInfo(NAME, space.chunkSize(), space.volumeSize(), store.size(), usage.usedChunks(),
                usage.freeChunks(), usage.mappings(), Runs.count(space), Optional.empty());
    }

    @Override
    public long chunkSize(CowStore store) throws IOException, FormatException {
        return new SpaceReader(store, Findings.refuse(store.path())).superblockOnly().chunkSize();
    }

    @Override
    public boolean recognises(CowStore store) throws IOException {
        return SpaceReader.hasMagic(store);
    }
}
