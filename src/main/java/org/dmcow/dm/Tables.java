/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import java.util.ArrayList;
import java.util.List;
import org.dmcow.format.Runs;

/**
 * Builds a volume's table: {@code linear} segments into the CoW device for committed runs,
 * {@code cow} segments for everything else (all with the same ident, so they share the kernel's
 * volume state).
 */
public final class Tables {
    private Tables() {
    }

    /** What a volume's table is made of. Devices are "MAJOR:MINOR"; sizes in sectors. */
    public record Layout(String ident, long volumeSectors, int chunkSectors, String baseDev, String cowDev) {
        String cowParams() {
            return ident + " " + baseDev + " " + cowDev + " " + chunkSectors;
        }
    }

    /** Runs must be in increasing chunk order and must not overlap (as {@link Runs} makes them). */
    public static List<DeviceMapper.Target> table(Layout layout, List<Runs.Run> runs) {
        List<DeviceMapper.Target> t = new ArrayList<>();
        long sector = 0;
        long chunkSectors = layout.chunkSectors();
        for (Runs.Run r : runs) {
            long start = r.firstChunk() * chunkSectors;
            long end = Math.min(layout.volumeSectors(), (r.firstChunk() + r.chunks()) * chunkSectors);
            if (start >= end) {
                continue;
            }
            if (start > sector) {
                t.add(new DeviceMapper.Target(sector, start - sector, "cow", layout.cowParams()));
            }
            t.add(new DeviceMapper.Target(start, end - start, "linear", layout.cowDev() + " "
                    + r.firstPlace() / 512));
            sector = end;
        }
        if (sector < layout.volumeSectors()) {
            t.add(new DeviceMapper.Target(sector, layout.volumeSectors() - sector, "cow", layout.cowParams()));
        }
        return t;
    }

    /** Number of linear segments in a table. */
    public static long linearSegments(List<DeviceMapper.Target> table) {
        return table.stream().filter(x -> x.type().equals("linear")).count();
    }

    /** Whether the table still has a {@code cow} segment: without one the kernel drops the volume. */
    public static boolean hasCow(List<DeviceMapper.Target> table) {
        return table.stream().anyMatch(x -> x.type().equals("cow"));
    }
}
