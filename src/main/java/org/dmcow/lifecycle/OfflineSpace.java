/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowSpace;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.qcow2.Qcow2Format;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.ImageLock;

/**
 * A CoW space no daemon serves, read over its base by the offline commands (map, compare, export,
 * convert, flatten): its mappings as {@link VolumeExtents} and their bytes. Holds an image lock
 * that keeps dmcowd and QEMU from writing the space meanwhile. Closing it closes the space, the
 * base and the lock it was given. A qcow2 image read on its own ({@link #image}) has no base: what
 * lies below it is its {@link ImageVolume}'s.
 */
public final class OfflineSpace implements Closeable {
    private static final String OFFLINE_ONLY = "this command works offline only: remove the volume from dmcowd "
            + "(take it out of the config and reload) first";

    private static final ByteBuffer ZEROS = ByteBuffer.allocate(64 << 10).asReadOnlyBuffer();

    private final Path path;
    private final CowFormat format;
    private final FileCowStore store;
    private final FileBaseImage base;
    private final ImageLock lock;
    private final CowSpace view;
    private final long[] zeroChunks;

    private OfflineSpace(Path path, CowFormat format, FileCowStore store, FileBaseImage base, ImageLock lock,
            CowSpace view, long[] zeroChunks) {
        this.path = path;
        this.format = format;
        this.store = store;
        this.base = base;
        this.lock = lock;
        this.view = view;
        this.zeroChunks = zeroChunks;
    }

    /**
     * Refuses a space a device-mapper device holds (a dm-cow volume serves it, with or without a
     * daemon) or another holder locks (dmcowd, QEMU), naming the holder; else returns the lock
     * taken for {@code use}, held until the command is done.
     */
    public static ImageLock claim(Path cow, ImageLock.Use use) throws IOException, FormatException {
        List<String> devices = BlockDevices.mappedBy(cow);
        if (!devices.isEmpty()) {
            throw new FormatException(cow + ": served by " + String.join(", ", devices) + "; " + OFFLINE_ONLY);
        }
        try {
            return ImageLock.take(cow, use);
        } catch (ImageLock.ImageLockedException e) {
            throw new FormatException(e.getMessage() + "; " + OFFLINE_ONLY);
        }
    }

    /**
     * The base a space records (a qcow2 backing file, relative to the space's folder), or a refusal
     * naming the space when it records none (native keeps only the base's size and identity).
     */
    public static Path recordedBase(Path cow, CowFormat format, FileCowStore store) throws IOException,
            FormatException {
        Optional<String> name = format.info(store).base();
        if (name.isEmpty()) {
            throw new FormatException(cow + ": a " + format.name() + " space does not record its base's path; "
                    + "give it with --base");
        }
        Path p = Path.of(name.get());
        return p.isAbsolute() ? p : cow.toAbsolutePath().getParent().resolve(p);
    }

    /**
     * Reads the space in {@code store} (of {@code format}) over {@code base}, refusing a wrong base
     * and whatever the format refuses to serve. Takes ownership of the store, base and lock, also
     * when it refuses.
     */
    public static OfflineSpace open(Path cow, CowFormat format, FileCowStore store, FileBaseImage base, ImageLock lock)
            throws IOException, FormatException {
        try {
            CowSpace view = format.view(store, base);
            return new OfflineSpace(cow, format, store, base, lock, view, zeroChunks(view));
        } catch (IOException | FormatException | RuntimeException e) {
            closeAll(store, base, lock);
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public CowFormat format() {
        return format;
    }

    public FileBaseImage base() {
        return base;
    }

    public long chunkSize() {
        return view.chunkSize();
    }

    public long volumeSize() {
        return view.volumeSize();
    }

    /**
     * The qcow2 image {@code path} in {@code store} read on its own ({@link Qcow2Format#readImage}),
     * without a base: only its SPACE and ZERO extents are read here. Takes ownership of the store
     * and lock, also when it refuses.
     */
    static OfflineSpace image(Path path, FileCowStore store, ImageLock lock, CowSpace view) {
        return new OfflineSpace(path, new Qcow2Format(), store, null, lock, view, zeroChunks(view));
    }

    private static long[] zeroChunks(CowSpace view) {
        long[][] zeros = {new long[16]};
        int[] count = {0};
        view.forEachZeroChunk(c -> {
            if (count[0] == zeros[0].length) {
                zeros[0] = Arrays.copyOf(zeros[0], 2 * count[0]);
            }
            zeros[0][count[0]++] = c;
        });
        return Arrays.copyOf(zeros[0], count[0]);
    }

    /** Mappings and chunks changed since the base: the guest's data. */
    public CowSpace.SpaceUsage usage() {
        return view.usage();
    }

    /** A new walk over the volume from its start. */
    public VolumeExtents extents() {
        return new VolumeExtents(view, zeroChunks);
    }

    /**
     * Reads the volume's bytes from {@code position} into {@code dst}, all inside {@code extent}:
     * from the CoW space, the base, or zeros.
     */
    public void read(VolumeExtent extent, long position, ByteBuffer dst) throws IOException {
        switch (extent.kind()) {
            case SPACE -> store.read(dst, extent.place() + (position - extent.start()));
            case BASE -> base.read(dst, position);
            case ZERO -> fillZeros(dst);
        }
    }

    /** Fills the rest of {@code dst} with zeros. */
    static void fillZeros(ByteBuffer dst) {
        while (dst.hasRemaining()) {
            dst.put(ZEROS.duplicate().limit(Math.min(ZEROS.capacity(), dst.remaining())));
        }
    }

    @Override
    public void close() throws IOException {
        closeAll(store, base, lock);
    }

    private static void closeAll(FileCowStore store, FileBaseImage base, ImageLock lock) throws IOException {
        try {
            try {
                store.close();
            } finally {
                if (base != null) {
                    base.close();
                }
            }
        } finally {
            lock.close();
        }
    }
}
