/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import org.dmcow.format.CowFormat;
import org.dmcow.format.FileBaseImage;
import org.dmcow.host.BlockDevices;
import org.dmcow.host.ImageLock;
import org.dmcow.lifecycle.OfflineSpace;
import org.dmcow.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code dmcowctl reset SPACE --base BASE}: the volume back to the base, an empty space with the same settings. */
@Command(name = "reset", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Drops every change in SPACE: the volume reads as BASE again. SPACE is formatted anew with its "
                + "format, chunk size and (native) size, over the same base.",
            "Offline only; refused, with nothing written, for a served space or a space of another base."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:reset", "1:refused or failed: the message names the file and the reason",
            "2:bad command line"})
final class ResetCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Mixin
    private SpaceBaseOption base;

    @Mixin
    private JsonOption json;

    @Override
    public List<Path> files() {
        return Arrays.asList(space.given(), base.given());
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        CowFormat format;
        long chunkSize;
        long dropped;
        Path basePath;
        // read first: a served space, a wrong base or a damaged space is refused before anything is written
        try (OfflineSpace s = OfflineSpaces.open(cow, base.given(), ImageLock.Use.WRITE)) {
            format = s.format();
            chunkSize = s.chunkSize();
            dropped = s.usage().mappings();
            basePath = s.base().path();
        }
        OptionalLong size = SpaceFiles.on(cow, () -> format.name().equals("native") && !BlockDevices.isBlockDevice(cow)
                ? OptionalLong.of(Files.size(cow)) : OptionalLong.empty());
        try (FileBaseImage b = SpaceFiles.base(basePath)) {
            // format claims the space again (its lock, the base): a daemon that started meanwhile wins
            SpaceFiles.on(cow, () -> {
                format.create(new CowFormat.CreateRequest(cow, b, chunkSize, size, true));
                return null;
            });
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json.on()) {
            out.println(Json.ObjectWriter.document().put("cow", cow.toString()).put("base", basePath.toString())
                    .put("format", format.name()).put("chunk_size", chunkSize).put("dropped_mappings", dropped)
                    .toString());
        } else {
            out.println("reset " + cow + " (" + format.name() + "): " + dropped + " changed chunks dropped; the volume "
                    + "reads as " + basePath + " again");
        }
        return Dmcowctl.OK;
    }
}
