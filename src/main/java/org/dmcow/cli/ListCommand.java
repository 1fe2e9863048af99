/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import com.typesafe.config.Config;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.admin.AdminClient;
import org.dmcow.admin.AdminOps;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code dmcowctl list}: the running dmcowd's volumes and where each is configured. */
@Command(name = "list", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Lists the running dmcowd's volumes: name, state, and source: \"config\" (the config file; "
                + "not removable with dmcowctl remove) or the volumes folder's NAME.conf (added with dmcowctl add). "
                + "With --json: status's document, each volume with its \"source\"."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:listed", "1:dmcowd cannot be reached", "2:bad command line"})
final class ListCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @ArgGroup(exclusive = true)
    private DaemonSocket where;

    @Mixin
    private JsonOption json;

    @Override
    public List<Path> files() {
        return DaemonSocket.files(where);
    }

    @Override
    public Integer call() throws Exception {
        DaemonSocket.Answer a = DaemonSocket.ask(where, socket -> AdminClient.ask(socket,
                AdminClient.request(AdminOps.LIST)), "volumes");
        PrintWriter out = spec.commandLine().getOut();
        if (json.on()) {
            out.print(a.text());
            return Dmcowctl.OK;
        }
        out.printf("%-24s %-10s %s%n", "NAME", "STATE", "SOURCE");
        for (Config v : a.json().getConfigList("volumes")) {
            out.printf("%-24s %-10s %s%n", v.getString("name"), v.getString("state"), v.getString("source"));
        }
        return Dmcowctl.OK;
    }
}
