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
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dmcowctl grow NAME [--size N | --by N]}: a served volume's CoW space takes in more room. */
@Command(name = "grow", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Grows a served volume's CoW space while it serves: a file-backed space's file is "
                + "extended to --size or by --by; without either, the room its file or device gained by other "
                + "means (truncate, lvextend) is taken in. The loop device's capacity is refreshed and writes "
                + "waiting for room go on at once. Native spaces; a qcow2 space grows by itself."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:grown, or already as large (the sizes are printed)",
            "1:refused or failed: the message names the volume or socket and the reason", "2:bad command line"})
final class GrowCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "the volume, as in dmcow.volumes.NAME")
    private String name;

    @ArgGroup(exclusive = true)
    private NewSize newSize;

    @ArgGroup(exclusive = true)
    private DaemonSocket where;

    @Option(names = "--json", description = "the daemon's answer as one JSON document")
    private boolean json;

    static final class NewSize {
        @Option(names = "--size", paramLabel = "N", converter = SizeConverter.class,
                description = "the file's new size (e.g. 20G); never smaller than it is")
        private long size;

        @Option(names = "--by", paramLabel = "N", converter = SizeConverter.class,
                description = "grow the file by this much (e.g. 5G)")
        private long by;
    }

    @Override
    public List<Path> files() {
        return DaemonSocket.files(where);
    }

    @Override
    public Integer call() throws Exception {
        long size = newSize == null ? 0 : newSize.size;
        long by = newSize == null ? 0 : newSize.by;
        DaemonSocket.Answer a = DaemonSocket.ask(where, socket -> AdminClient.grow(socket, name, size, by), "bytes");
        Config result = a.json();
        if (result.hasPath("error")) {
            throw new Failure("volume " + name + ": not grown: " + result.getString("error"));
        }
        if (json) {
            spec.commandLine().getOut().print(a.text());
        } else {
            spec.commandLine().getOut().printf("%s: CoW space %s, was %s; %d chunks free%n", name,
                    HumanSize.of(result.getLong("bytes")), HumanSize.of(result.getLong("bytes_before")),
                    result.getLong("free_chunks"));
        }
        return Dmcowctl.OK;
    }
}
