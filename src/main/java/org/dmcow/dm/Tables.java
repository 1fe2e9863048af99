/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import java.util.ArrayList;
import java.util.List;
import org.dmcow.format.Runs;

/**
 * Builds a volume's table of {@code cow} segments, all with the same ident so they share the
 * kernel's volume state: mapped ones ({@code 2 mapped <cow_sector>}) for committed runs, served
 * like dm-linear straight from the CoW device, plain ones for everything else. Mapped rather than
 * dm-linear segments because dm sends its empty flush to every linear segment, but to one cow
 * segment per volume: an fsync then costs the same however many runs the table has.
 */
public final class Tables {
    /** The kernel target's option for a segment committed whole (target 1.2.0, protocol 2). */
    private static final String MAPPED = "mapped";
    /** Its option for segments whose chunks, discarded whole, are unmapped (target 1.3.0, protocol 3). */
    private static final String DISCARD_UNMAP = "discard_unmap";

    private Tables() {
    }

    /** What a volume's table is made of. Devices are "MAJOR:MINOR"; sizes in sectors. */
    public record Layout(String ident, long volumeSectors, int chunkSectors, String baseDev, String cowDev) {
        private String params() {
            return ident + " " + baseDev + " " + cowDev + " " + chunkSectors;
        }
    }

    /**
     * Runs must be in increasing chunk order and must not overlap (as {@link Runs} makes them).
     * {@code discardUnmap}: every segment has the option (the space's format takes unmaps).
     */
    public static List<DeviceMapper.Target> table(Layout layout, List<Runs.Run> runs, boolean discardUnmap) {
        String cowParams = layout.params() + (discardUnmap ? " 1 " + DISCARD_UNMAP : "");
        String mappedOptions = discardUnmap ? " 3 " : " 2 ";
        String unmapOption = discardUnmap ? " " + DISCARD_UNMAP : "";
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
                t.add(new DeviceMapper.Target(sector, start - sector, "cow", cowParams));
            }
            t.add(new DeviceMapper.Target(start, end - start, "cow",
                    layout.params() + mappedOptions + MAPPED + " " + r.firstPlace() / 512 + unmapOption));
            sector = end;
        }
        if (sector < layout.volumeSectors()) {
            t.add(new DeviceMapper.Target(sector, layout.volumeSectors() - sector, "cow", cowParams));
        }
        return t;
    }

    /** Number of mapped segments (committed runs) in a table. */
    public static long mappedSegments(List<DeviceMapper.Target> table) {
        return table.stream().filter(Tables::isMapped).count();
    }

    /** Whether a segment is a mapped one: committed whole, it does not keep the kernel from FORGET. */
    public static boolean isMapped(DeviceMapper.Target t) {
        return t.type().equals("cow") && t.params().contains(" " + MAPPED + " ");
    }
}
