/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.admin.AdminClient;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code dmcowctl metrics [--socket PATH | --config FILE]}: the live daemon's Prometheus text. */
@Command(name = "metrics", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = "Prints the running dmcowd's metrics in the Prometheus text format (the same text as GET "
                + "/metrics on dmcow.metrics.listen): per volume chunks, CoW space, faults, fills, commits and their "
                + "durations, table reloads and segments, state; kernel messages and errors of the daemon.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:printed",
            "1:dmcowd cannot be reached or did not answer: the message names the socket and the reason",
            "2:bad command line"})
final class MetricsCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @ArgGroup(exclusive = true)
    private DaemonSocket where;

    @Override
    public List<Path> files() {
        return DaemonSocket.files(where);
    }

    @Override
    public Integer call() throws Exception {
        spec.commandLine().getOut().print(DaemonSocket.askText(where, AdminClient::metrics));
        return Dmcowctl.OK;
    }
}
