/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.admin.AdminClient;
import org.dmcow.admin.AdminOps;
import org.dmcow.util.Json;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dmcowctl remove NAME}: a volume added with {@code add} is committed, its device and NAME.conf removed. */
@Command(name = "remove", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Removes volume NAME, added with dmcowctl add, from the running dmcowd: its mappings are "
                + "committed, /dev/mapper/NAME is removed, then dmcow.volumes-dir/NAME.conf is deleted. An open "
                + "device (mounted, or held by another device) is not removed: the holder is named and it keeps "
                + "serving. A volume of the config file itself is refused: remove it there and run dmcowctl reload."},
        exitCodeListHeading = "%nExit status:%n", exitCodeList = {
            "0:done: added (serving, with --wait) or removed",
            "1:failed: dmcowd cannot be reached; nothing changed",
            "2:bad command line",
            "3:refused, and why (a volume of the config file, no such volume); nothing changed",
            "4:remove: the device is open (busy, the holder is named); it keeps serving, its NAME.conf stays"})
final class RemoveCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "the volume")
    private String name;

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
        String r = Json.ObjectWriter.object().put("op", AdminOps.REMOVE).put("volume", name).toString();
        DaemonSocket.Answer a = DaemonSocket.ask(where, socket -> AdminClient.ask(socket, r), "outcome");
        return VolumeChangeAnswer.print(a, json.on(), spec.commandLine().getOut(), spec.commandLine().getErr());
    }
}
