/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.dmcow.config.ConfigException;
import org.dmcow.config.DaemonConfig;
import org.dmcow.format.FormatException;
import picocli.CommandLine.Option;

/** Where the daemon listens, for the commands that talk to it: the socket itself, or the config that names it. */
final class DaemonSocket {
    @Option(names = "--socket", paramLabel = "PATH", description = "the admin socket (default: dmcow.admin-socket's built-in default)")
    private Path socket;

    @Option(names = "--config", paramLabel = "FILE", description = "dmcowd's config file, for its admin-socket")
    private Path config;

    /** The files named, for messages. */
    static List<Path> files(DaemonSocket where) {
        return where == null ? List.of() : Arrays.asList(where.socket, where.config);
    }

    /** The admin socket {@code where} names; null: the built-in default. */
    static Path path(DaemonSocket where) throws Failure, ConfigException, FormatException {
        if (where == null) {
            return DaemonConfig.defaults().adminSocket();
        }
        if (where.socket != null) {
            return where.socket;
        }
        SpaceFiles.requireReadable(where.config);
        return DaemonConfig.load(where.config).adminSocket();
    }
}
