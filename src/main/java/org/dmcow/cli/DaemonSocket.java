/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import java.io.IOException;
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

    /** A request sent to the admin socket. */
    @FunctionalInterface
    interface Request {
        String send(Path socket) throws IOException;
    }

    /** The daemon's answer, as it came and parsed; {@code socket} names where it came from. */
    record Answer(Path socket, String text, Config json) {
    }

    /**
     * Sends {@code request} to the daemon {@code where} names and parses its JSON answer;
     * {@code expected} is a key the answer must have, else the failure shows what it said.
     */
    static Answer ask(DaemonSocket where, Request request, String expected) throws Exception {
        Path socket = path(where);
        String text = send(socket, request);
        try {
            Config json = ConfigFactory.parseString(text, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
            json.getValue(expected);
            return new Answer(socket, text, json);
        } catch (com.typesafe.config.ConfigException e) {
            throw new Failure(socket, "dmcowd answered \"" + text.strip() + "\"");
        }
    }

    /**
     * Sends {@code request} to the daemon {@code where} names and returns its text answer, which
     * must not be an "error: ..." line.
     */
    static String askText(DaemonSocket where, Request request) throws Exception {
        Path socket = path(where);
        String text = send(socket, request);
        if (text.isEmpty() || text.startsWith("error:")) {
            throw new Failure(socket, "dmcowd answered \"" + text.strip() + "\"");
        }
        return text;
    }

    private static String send(Path socket, Request request) throws Failure {
        try {
            return request.send(socket);
        } catch (IOException e) {
            throw new Failure(socket, "cannot reach dmcowd: " + Failure.reason(e) + " (is it running?)");
        }
    }

    /** The admin socket {@code where} names; null: the built-in default. */
    private static Path path(DaemonSocket where) throws Failure, ConfigException, FormatException {
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
