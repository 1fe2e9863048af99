/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.admin.AdminClient;
import org.dmcow.admin.AdminOps;
import org.dmcow.util.Json;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dmcowctl add NAME --base B --cow C}: a running dmcowd serves a new volume, kept in its volumes folder. */
@Command(name = "add", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Adds volume NAME to the running dmcowd: checked as a reload checks the config (same "
                + "refusals, same messages), then written to dmcow.volumes-dir/NAME.conf, then served as "
                + "/dev/mapper/NAME. A restart or reload serves it again. The CoW space must be formatted "
                + "(dmcowctl format)."},
        exitCodeListHeading = "%nExit status:%n", exitCodeList = {
            "0:done: added (serving, with --wait) or removed",
            "1:failed: dmcowd cannot be reached, or NAME.conf could not be written; nothing changed",
            "2:bad command line",
            "3:refused, and why (invalid or conflicting volume, a name in use, a volume of the config file, no "
                    + "such volume); nothing changed",
            "4:remove: the device is open (busy, the holder is named); it keeps serving, its NAME.conf stays",
            "5:add --wait: added and kept, but not serving within the wait (its state is printed)"})
final class AddCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "the volume: /dev/mapper/NAME")
    private String name;

    @Option(names = "--base", required = true, paramLabel = "B", description = "the base (golden image), read only")
    private Path base;

    @Option(names = "--cow", required = true, paramLabel = "C", description = "the formatted CoW space")
    private Path cow;

    @Option(names = "--format", paramLabel = "native|qcow2", description = "the CoW space's format (default native)")
    private String format;

    @Option(names = "--chunk-size", paramLabel = "N", description = "e.g. 64k (default: the space's own)")
    private String chunkSize;

    @Option(names = "--wait", arity = "0..1", paramLabel = "SECONDS", fallbackValue = "60",
            description = "return once the device serves, waiting up to SECONDS (default 60)")
    private Integer waitSeconds;

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
        Json.ObjectWriter r = Json.ObjectWriter.object().put("op", AdminOps.ADD).put("volume", name)
                .put("base", base.toAbsolutePath().toString()).put("cow", cow.toAbsolutePath().toString())
                .put("wait_ms", waitSeconds == null ? 0 : Duration.ofSeconds(waitSeconds).toMillis());
        if (format != null) {
            r.put("format", format);
        }
        if (chunkSize != null) {
            r.put("chunk_size", chunkSize);
        }
        DaemonSocket.Answer a = DaemonSocket.ask(where, socket -> AdminClient.ask(socket, r.toString()), "outcome");
        return VolumeChangeAnswer.print(a, json.on(), spec.commandLine().getOut(), spec.commandLine().getErr());
    }
}
