/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.SpaceInfo;
import org.dmcow.host.BlockDevices;
import org.dmcow.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl info [--json] SPACE}: format, sizes, usage, and the segments a table would need. */
@Command(name = "info", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = "Describes a CoW space offline: format, chunk size, sizes, usage and the number of mapped "
                + "segments a table would need.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:described", "1:the space cannot be read: the message names the file and the reason",
            "2:bad command line"})
final class InfoCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Option(names = "--json", description = "one JSON document")
    private boolean json;

    @Override
    public List<Path> files() {
        return space.given() == null ? List.of() : List.of(space.given());
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        try (FileCowStore store = SpaceFiles.openReadOnly(cow)) {
            SpaceInfo i = SpaceFiles.on(cow, () -> SpaceFiles.detect(store).info(store));
            List<String> devices = BlockDevices.mappedBy(cow);
            String device = devices.isEmpty() ? null : String.join(",", devices);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(Json.ObjectWriter.document().put("cow", cow.toString()).put("base", i.base().orElse(null))
                        .put("device", device).put("format", i.format())
                        .put("chunk_size", i.chunkSize()).put("volume_size", i.volumeSize())
                        .put("cow_size", i.cowSize()).put("used_chunks", i.usedChunks())
                        .put("free_chunks", i.freeChunks()).put("mappings", i.mappings())
                        .put("segments", i.segments()).toString());
            } else {
                out.println("cow:         " + cow);
                out.println("base:        " + i.base().orElse("(not recorded by the format: size and identity only)"));
                out.println("device:      " + (device == null ? "(not mapped)" : device));
                out.println("format:      " + i.format());
                out.println("chunk size:  " + HumanSize.of(i.chunkSize()));
                out.println("volume size: " + HumanSize.withBytes(i.volumeSize()));
                out.println("cow size:    " + HumanSize.withBytes(i.cowSize()));
                out.println("used:        " + HumanSize.withBytes(i.usedChunks() * i.chunkSize()) + ", "
                        + i.usedChunks() + " chunks");
                out.println("free:        " + HumanSize.withBytes(i.freeChunks() * i.chunkSize()) + ", "
                        + i.freeChunks() + " chunks");
                out.println("mappings:    " + i.mappings());
                out.println("segments:    " + i.segments());
            }
            return Dmcowctl.OK;
        }
    }
}
