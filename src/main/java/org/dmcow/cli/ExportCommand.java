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
import org.dmcow.lifecycle.Transfer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code dmcowctl export SPACE --base BASE -o OUT.qcow2}: the guest's changes as a qcow2 overlay of the base. */
@Command(name = "export", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Writes the guest's changes in SPACE as a compact qcow2 overlay whose backing file is BASE "
                + "(raw): QEMU boots it, `qemu-img` reads it, dmcowd serves it as a qcow2 CoW space.",
            "Offline only: a space dmcowd serves is refused. OUT appears whole or not at all; the base and the "
                    + "space are only read."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:exported", "1:refused or failed, nothing written: the message names the file and the reason",
            "2:bad command line"})
final class ExportCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

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
            Qcow2ImageWriter.check(output.output, s.chunkSize(), s.volumeSize(), Optional.of(backing.toString()));
            Transfer.Result r = output.write(s, Transfer.Scope.CHANGES,
                    file -> Qcow2Sink.overlay(file, s.chunkSize(), s.volumeSize(), backing),
                    progress.of(spec, json.on()));
            output.report(spec, json.on(), "exported", s, "qcow2", r);
        }
        return Dmcowctl.OK;
    }
}
