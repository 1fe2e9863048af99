/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.nativeformat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dmcow.format.CowStore;

/**
 * A CoW store in memory, kept as its non-zero 512-byte sectors, that can record its writes: the
 * seam for crash simulation (replay a prefix of the writes, the last one cut at a sector).
 */
final class MemoryCowStore implements CowStore {
    static final int SECTOR = 512;

    /** One write as issued: where, and the bytes; a flush is recorded as a write without bytes. */
    record Write(long position, byte[] bytes) {
        boolean flush() {
            return bytes == null;
        }
    }

    private final Path path;
    private final Map<Long, byte[]> sectors;
    private long size;
    private List<Write> recorded;

    MemoryCowStore(Path path, Map<Long, byte[]> sectors, long size) {
        this.path = path;
        this.sectors = sectors;
        this.size = size;
    }

    /** A copy of a file's contents. */
    static MemoryCowStore of(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        Map<Long, byte[]> sectors = new HashMap<>();
        for (int at = 0; at < all.length; at += SECTOR) {
            for (int i = at; i < Math.min(all.length, at + SECTOR); i++) {
                if (all[i] != 0) {
                    byte[] s = new byte[SECTOR];
                    System.arraycopy(all, at, s, 0, Math.min(SECTOR, all.length - at));
                    sectors.put((long) at / SECTOR, s);
                    break;
                }
            }
        }
        return new MemoryCowStore(file, sectors, all.length);
    }

    /** An independent copy of the current contents. */
    MemoryCowStore copy() {
        return new MemoryCowStore(path, new HashMap<>(sectors), size);
    }

    /** Starts recording writes (a fresh list). */
    void record() {
        recorded = new ArrayList<>();
    }

    List<Write> recorded() {
        return recorded;
    }

    /** Applies the first {@code bytes} bytes of a write, as a crash that cut it there would leave them. */
    void apply(Write w, int bytes) throws IOException {
        write(ByteBuffer.wrap(w.bytes(), 0, bytes), w.position());
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(ByteBuffer dst, long position) {
        long pos = position;
        while (dst.hasRemaining()) {
            byte[] s = sectors.get(pos / SECTOR);
            int off = (int) (pos % SECTOR);
            int n = Math.min(dst.remaining(), SECTOR - off);
            if (s == null) {
                for (int i = 0; i < n; i++) {
                    dst.put((byte) 0);
                }
            } else {
                dst.put(s, off, n);
            }
            pos += n;
        }
    }

    @Override
    public void write(ByteBuffer src, long position) throws IOException {
        if (recorded != null) {
            byte[] copy = new byte[src.remaining()];
            src.duplicate().get(copy);
            recorded.add(new Write(position, copy));
        }
        long pos = position;
        while (src.hasRemaining()) {
            long index = pos / SECTOR;
            int off = (int) (pos % SECTOR);
            int n = Math.min(src.remaining(), SECTOR - off);
            byte[] old = sectors.get(index);
            byte[] s = old == null ? new byte[SECTOR] : old.clone();
            src.get(s, off, n);
            sectors.put(index, s);
            pos += n;
        }
        size = Math.max(size, pos);
    }

    @Override
    public void flush() {
        if (recorded != null) {
            recorded.add(new Write(-1, null));
        }
    }

    @Override
    public void grow(long newSize) {
        size = Math.max(size, newSize);
    }

    @Override
    public void close() {
    }
}
