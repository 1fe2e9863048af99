/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.util.concurrent.Callable;
import org.dmcow.util.Json;
import org.dmcow.util.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl version [--json]}. */
@Command(name = "version", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = "Prints the version.",
        exitCodeListHeading = "%nExit status:%n", exitCodeList = {"0:printed", "2:bad command line"})
final class VersionCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--json", description = "one JSON document: {\"schema\":1,\"version\":...}")
    private boolean json;

    @Override
    public Integer call() {
        spec.commandLine().getOut().println(json ? Json.ObjectWriter.document().put("version", Version.get()).toString()
                : "dmcowctl " + Version.get());
        return Dmcowctl.OK;
    }
}
