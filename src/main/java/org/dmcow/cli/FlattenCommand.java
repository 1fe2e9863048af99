/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.dmcow.format.qcow2.Qcow2ImageWriter;
import org.dmcow.host.ImageLock;
import org.dmcow.lifecycle.OfflineSpace;
import org.dmcow.lifecycle.Qcow2Sink;
import org.dmcow.lifecycle.RawSink;
import org.dmcow.lifecycle.Transfer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl flatten SPACE --base BASE -o IMAGE [--format raw|qcow2]}: base and changes as one image. */
@Command(name = "flatten", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Writes the volume as the guest sees it, the base with SPACE's changes over it, as one "
                + "standalone image: the way to make a new golden image from a prepared guest.",
            "The base is never written (other guests share it). Chunks of zeros are left as holes (raw) or "
                    + "unallocated (qcow2). Offline only; IMAGE appears whole or not at all."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:flattened", "1:refused or failed, nothing written: the message names the file and the "
            + "reason", "2:bad command line"})
final class FlattenCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    /** The image formats flatten writes. */
    enum ImageFormat {
        raw, qcow2
    }

    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Mixin
    private SpaceBaseOption base;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = "raw",
            description = "raw or qcow2 (default: ${DEFAULT-VALUE})")
    private ImageFormat format;

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
            ImageOutput.SinkFactory sink;
            if (format == ImageFormat.qcow2) {
                Qcow2ImageWriter.check(output.output, s.chunkSize(), s.volumeSize(), Optional.empty());
                sink = file -> Qcow2Sink.standalone(file, s.chunkSize(), s.volumeSize());
            } else {
                sink = file -> RawSink.create(file, s.volumeSize(), s.chunkSize());
            }
            Transfer.Result r = output.write(s, Transfer.Scope.WHOLE, sink, progress.of(spec, json.on()));
            output.report(spec, json.on(), "flattened", s, format.name(), r);
        }
        return Dmcowctl.OK;
    }
}
