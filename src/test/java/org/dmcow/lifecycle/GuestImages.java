/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Random;
import org.dmcow.format.qcow2.Qemu;

/** A base with data and holes, and a guest's overlay of it written by QEMU's own qemu-io. */
final class GuestImages {
    /** 8 MiB and 12 KiB: the last 64 KiB chunk is partial. */
    static final long SIZE = (8L << 20) + (12 << 10);

    private GuestImages() {
    }

    /** Random data in the first 4 MiB and the last 8 KiB, a hole between. */
    static Path base(Path dir) throws Exception {
        Path base = dir.resolve("base.raw");
        Random random = new Random(19);
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            byte[] data = new byte[4 << 20];
            random.nextBytes(data);
            f.write(data);
            f.setLength(SIZE);
            byte[] tail = new byte[8 << 10];
            random.nextBytes(tail);
            f.seek(SIZE - tail.length);
            f.write(tail);
        }
        return base;
    }

    /**
     * A qcow2 overlay of {@code base} as QEMU writes it: a write inside one cluster, whole clusters, a
     * zero write of a whole cluster over data and over a hole, a zero write inside a cluster, and a
     * write into the partial last cluster.
     */
    static Path overlay(Path dir, Path base) throws Exception {
        Path ov = dir.resolve("guest.qcow2");
        Qemu.run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=64k", "-b", base.toString(),
                "-F", "raw", ov.toString()).ok();
        Qemu.run("qemu-io", "-c", "write -P 0x11 69632 4096", "-c", "write -P 0x22 1M 192k",
                "-c", "write -z 2M 64k", "-c", "write -z 6M 64k", "-c", "write -z 3M 4k",
                "-c", "write -P 0x33 " + (SIZE - 4096) + " 4096", "-c", "write -P 0x44 5M 64k",
                ov.toString()).ok();
        return ov;
    }
}
