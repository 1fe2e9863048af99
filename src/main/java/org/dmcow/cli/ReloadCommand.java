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

/** {@code dmcowctl reload}: what SIGHUP does, answered: the unit's ExecReload. */
@Command(name = "reload", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Makes the running dmcowd re-read its config file and volumes folder, as SIGHUP does, and "
                + "prints what changed: volumes started, volumes being removed, volumes refused and why. "
                + "systemctl reload dmcowd runs it, so it returns once the daemon acted."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:reloaded, nothing refused", "1:dmcowd cannot be reached, or the whole config was "
                + "refused (nothing changed)", "2:bad command line",
            "3:reloaded, but a volume was refused (it keeps running as it was if it ran)"})
final class ReloadCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
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
                AdminClient.request(AdminOps.RELOAD)), "refused");
        Config r = a.json();
        PrintWriter out = spec.commandLine().getOut();
        if (json.on()) {
            out.print(a.text());
        }
        if (r.hasPath("error")) {
            if (!json.on()) {
                spec.commandLine().getErr().println("reload: " + r.getString("error"));
            }
            return Dmcowctl.FAILED;
        }
        Config refused = r.getConfig("refused");
        if (!json.on()) {
            out.println("added: " + String.join(" ", r.getStringList("added")));
            out.println("removing: " + String.join(" ", r.getStringList("removed")));
            for (String name : refused.root().keySet()) {
                out.println("refused: " + refused.root().get(name).unwrapped());
            }
        }
        return refused.root().isEmpty() ? Dmcowctl.OK : VolumeChangeAnswer.REFUSED;
    }
}
