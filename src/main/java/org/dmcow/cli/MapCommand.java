/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.host.FileHoles;
import org.dmcow.host.ImageLock;
import org.dmcow.lifecycle.OfflineSpace;
import org.dmcow.lifecycle.VolumeExtent;
import org.dmcow.lifecycle.VolumeExtents;
import org.dmcow.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl map SPACE [--base BASE] [--json]}: where each range of the volume lives, as qemu-img map says it. */
@Command(name = "map", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Prints which ranges of the volume live where, as `qemu-img map` does: depth 0 is SPACE "
                + "(the offset is where in the file), depth 1 the base (its holes read as zeros).",
            "Without --json only the ranges holding data are listed; --json lists every range with qemu-img map's "
                    + "keys (start, length, depth, present, zero, data, offset). Offline only."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:printed", "1:refused or failed: the message names the file and the reason",
            "2:bad command line"})
final class MapCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Mixin
    private SpaceBaseOption base;

    @Option(names = "--json", description = "one JSON document with the list of ranges under \"map\"")
    private boolean json;

    @Override
    public List<Path> files() {
        return Arrays.asList(space.given(), base.given());
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        try (OfflineSpace s = OfflineSpaces.open(cow, base.given(), ImageLock.Use.READ)) {
            Path basePath = s.base().path();
            MapPrinter printer = new MapPrinter(spec.commandLine().getOut(), json);
            printer.start(cow, basePath);
            SpaceFiles.on(basePath, () -> {
                try (FileHoles holes = FileHoles.open(basePath, s.base().size())) {
                    VolumeExtents extents = s.extents();
                    for (VolumeExtent e = extents.next(); e != null; e = extents.next()) {
                        switch (e.kind()) {
                            case SPACE -> printer.entry(e.start(), e.length(), 0, false, e.place(), cow);
                            case ZERO -> printer.entry(e.start(), e.length(), 0, true, -1, cow);
                            case BASE -> baseEntries(printer, e, holes, basePath);
                        }
                    }
                }
                return null;
            });
            printer.finish();
        }
        return Dmcowctl.OK;
    }

    /** A base extent as the base's data and holes, each at its own offset in the base. */
    private static void baseEntries(MapPrinter printer, VolumeExtent e, FileHoles holes, Path base)
            throws java.io.IOException {
        long at = e.start();
        while (at < e.end()) {
            long data = Math.min(e.end(), holes.nextData(at));
            if (data > at) {
                printer.entry(at, data - at, 1, true, at, base);
                at = data;
            } else {
                long end = Math.min(e.end(), holes.dataEnd(at));
                printer.entry(at, end - at, 1, false, at, base);
                at = end;
            }
        }
    }

    /** Prints entries as they come, merging neighbours qemu-img map would print as one. */
    private static final class MapPrinter {
        private final PrintWriter out;
        private final boolean json;
        private boolean first = true;
        /* the entry not printed yet: it may still grow */
        private long start = -1;
        private long length;
        private int depth;
        private boolean zero;
        private long offset;
        private Path file;

        MapPrinter(PrintWriter out, boolean json) {
            this.out = out;
            this.json = json;
        }

        void start(Path cow, Path base) {
            if (json) {
                // the document's start only: the entries follow as they come, not held in memory
                out.print("{\"schema\":" + Json.SCHEMA + ",\"cow\":" + Json.quote(cow.toString()) + ",\"base\":"
                        + Json.quote(base.toString()) + ",\"map\":[");
            } else {
                out.println(String.format("%-16s%-16s%-16s%s", "Offset", "Length", "Mapped to", "File"));
            }
        }

        /** {@code offset}: where the range lives in {@code in}, or -1 where it is nowhere (reads as zeros). */
        void entry(long at, long bytes, int inDepth, boolean zeros, long inOffset, Path in) {
            if (start >= 0 && at == start + length && inDepth == depth && zeros == zero && in.equals(file)
                    && (offset < 0 ? inOffset < 0 : inOffset == offset + length)) {
                length += bytes;
                return;
            }
            flush();
            start = at;
            length = bytes;
            depth = inDepth;
            zero = zeros;
            offset = inOffset;
            file = in;
        }

        private void flush() {
            if (start < 0) {
                return;
            }
            if (json) {
                Json.ObjectWriter o = Json.ObjectWriter.object().put("start", start).put("length", length)
                        .put("depth", depth).put("present", true).put("zero", zero).put("data", !zero);
                if (offset >= 0) {
                    o.put("offset", offset);
                }
                out.print((first ? "\n" : ",\n") + o);
                first = false;
            } else if (!zero) {
                out.println(String.format("%-16s%-16s%-16s%s", hex(start), hex(length), hex(offset), file));
            }
            start = -1;
        }

        /** As C's {@code %#x}: {@code 0} without the prefix. */
        private static String hex(long v) {
            return v == 0 ? "0" : "0x" + Long.toHexString(v);
        }

        void finish() {
            flush();
            if (json) {
                out.println("]}");
            }
            out.flush();
        }
    }
}
