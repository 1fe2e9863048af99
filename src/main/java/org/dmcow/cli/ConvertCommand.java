/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.dmcow.format.CowFormat;
import org.dmcow.format.qcow2.Qcow2ImageWriter;
import org.dmcow.host.ImageLock;
import org.dmcow.lifecycle.CowSpaceSink;
import org.dmcow.lifecycle.OfflineSpace;
import org.dmcow.lifecycle.Qcow2Sink;
import org.dmcow.lifecycle.Transfer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl convert SPACE --to native|qcow2 -o OUT [--base BASE]}: the same mappings in the other format. */
@Command(name = "convert", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Writes SPACE's mappings as a new CoW space of another format (or compacted in its own) over "
                + "the same base, the chunk size kept: dmcowd serves OUT in place of SPACE.",
            "qcow2: a compact overlay whose backing file is BASE (as export); native: laid out by the native format, "
                    + "a qcow2 zero cluster as a chunk of zeros. Offline only; OUT appears whole or not at all."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:converted", "1:refused or failed, nothing written: the message names the file and the reason",
            "2:bad command line"})
final class ConvertCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Option(names = "--to", required = true, paramLabel = "FORMAT", converter = FormatCommand.FormatConverter.class,
            description = "native or qcow2")
    private CowFormat to;

    @Mixin
    private SpaceBaseOption base;

    @Mixin
    private ImageOutput output;

    @Mixin
    private ProgressOption progress;

    @Mixin
    private JsonOption json;

    @Override
    public List<Path> files() {
        return Arrays.asList(space.given(), base.given(), output.output);
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        try (OfflineSpace s = OfflineSpaces.open(cow, base.given(), ImageLock.Use.READ)) {
            Path backing = s.base().path();
            ImageOutput.SinkFactory sink;
            if (to.name().equals("qcow2")) {
                Qcow2ImageWriter.check(output.output, s.chunkSize(), s.volumeSize(), Optional.of(backing.toString()));
                sink = file -> Qcow2Sink.overlay(file, s.chunkSize(), s.volumeSize(), backing);
            } else {
                sink = file -> CowSpaceSink.create(to, file, s.base(), s.chunkSize());
            }
            Transfer.Result r = output.write(s, Transfer.Scope.CHANGES, sink, progress.of(spec, json.on()));
            output.report(spec, json.on(), "converted", s, to.name(), r);
        }
        return Dmcowctl.OK;
    }
}
