/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format.qcow2;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dmcow.format.CowSpace;

/** Runs the real qemu-img and qemu-io (Debian qemu-utils) for interop checks. */
public final class Qemu {
    private Qemu() {
    }

    public record Result(int exit, String out, String err) {
        public Result ok() {
            if (exit != 0) {
                throw new AssertionError("exit " + exit + "\n" + out + err);
            }
            return this;
        }
    }

    public static Result run(String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        int exit = p.waitFor();
        return new Result(exit, new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    /**
     * A qemu-io that keeps {@code image} open (for writing unless {@code options} say -r), once it
     * holds its image locks; the caller destroys it.
     */
    public static Process holding(Path image, String... options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("qemu-io", "-c", "sleep 30000"));
        command.addAll(List.of(options));
        command.add(image.toString());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String inode = ":" + Files.getAttribute(image, "unix:ino") + " ";
        for (int i = 0; i < 200 && p.isAlive(); i++) {
            if (Files.readString(Path.of("/proc/locks")).contains(inode)) {
                return p;
            }
            Thread.sleep(50);
        }
        p.destroy();
        throw new AssertionError("qemu-io took no lock on " + image + ": " + new String(p.getInputStream()
                .readAllBytes(), StandardCharsets.UTF_8));
    }

    /** Data extents of the overlay itself (depth 0, not zero), split into clusters: chunk -> offset. */
    static List<CowSpace.Mapping> dataMappings(String mapJson, long clusterSize) {
        Pattern entry = Pattern.compile("\\{[^}]*\\}");
        List<CowSpace.Mapping> list = new ArrayList<>();
        Matcher m = entry.matcher(mapJson);
        while (m.find()) {
            String e = m.group();
            if (field(e, "depth") != 0 || !e.contains("\"data\": true") || e.contains("\"zero\": true")) {
                continue;
            }
            long start = field(e, "start");
            long length = field(e, "length");
            long offset = field(e, "offset");
            for (long o = 0; o < length; o += clusterSize) {
                list.add(new CowSpace.Mapping((start + o) / clusterSize, offset + o));
            }
        }
        return list;
    }

    /** The host offset qemu-img map gives for the extent starting at {@code start}, or -1. */
    public static long hostOffset(String mapJson, long start) {
        Matcher m = Pattern.compile("\\{[^}]*\\}").matcher(mapJson);
        while (m.find()) {
            String e = m.group();
            if (field(e, "start") == start) {
                return e.contains("\"offset\"") ? field(e, "offset") : -1;
            }
        }
        return -1;
    }

    private static long field(String entry, String name) {
        Matcher m = Pattern.compile("\"" + name + "\": (\\d+)").matcher(entry);
        if (!m.find()) {
            throw new AssertionError("no " + name + " in " + entry);
        }
        return Long.parseLong(m.group(1));
    }
}
