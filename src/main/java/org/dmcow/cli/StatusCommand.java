/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.admin.AdminClient;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl status [--json] [--socket PATH | --config FILE]}: the live daemon's volumes. */
@Command(name = "status", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = "Shows the running dmcowd's volumes: state, chunks mapped and committed, faults pending, "
                + "CoW space used and free (USE%%), reloads, segments in the live table, last commit (UTC).",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:every volume serving (or none configured)",
            "1:dmcowd cannot be reached or did not answer: the message names the socket and the reason",
            "2:bad command line", "3:a volume is not serving (starting, waiting, degraded, full or stopping)"})
final class StatusCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    static final int NOT_SERVING = 3;

    @Spec
    private CommandSpec spec;

    @ArgGroup(exclusive = true)
    private DaemonSocket where;

    @Option(names = "--json", description = "the daemon's answer as one JSON document")
    private boolean json;

    @Override
    public List<Path> files() {
        return DaemonSocket.files(where);
    }

    @Override
    public Integer call() throws Exception {
        DaemonSocket.Answer a = DaemonSocket.ask(where, AdminClient::statusJson, "volumes");
        List<? extends Config> volumes = a.json().getConfigList("volumes");
        spec.commandLine().getOut().print(json ? a.text() : StatusTable.render(volumes));
        return volumes.stream().allMatch(v -> v.getString("state").equals("serving")) ? Dmcowctl.OK : NOT_SERVING;
    }
}
