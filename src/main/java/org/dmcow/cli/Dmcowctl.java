/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.dmcow.config.ConfigException;
import org.dmcow.format.FormatException;
import org.dmcow.util.Json;
import org.dmcow.util.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code dmcowctl}: the operator's tool, with qemu-img's conventions (the CoW space is an operand,
 * {@code check}'s exit status says clean, corrupt or leaking). Each subcommand is one class; this
 * parses, dispatches and turns failures into one message and an exit status.
 */
@Command(name = "dmcowctl", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Formats, checks and describes dm-cow CoW spaces offline; shows a running dmcowd's volumes.",
            "Takes a guest's data out offline: map, compare, export (a qcow2 overlay), convert (between formats), "
                    + "flatten (a new golden image), reset (back to the base)."},
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {FormatCommand.class, CheckCommand.class, InfoCommand.class, StatusCommand.class, MetricsCommand.class, ListCommand.class, AddCommand.class,
            RemoveCommand.class, ReloadCommand.class, GrowCommand.class,
            MapCommand.class, CompareCommand.class, ExportCommand.class, ConvertCommand.class, FlattenCommand.class,
            ResetCommand.class, VersionCommand.class},
        footerHeading = "%nWith --json, every command prints one JSON document with \"schema\": " + Json.SCHEMA
                + " on stdout, an error as {\"schema\":" + Json.SCHEMA + ",\"error\":{\"message\":...,\"path\":...}}.%n",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            "0:success (check: clean; status: every volume serving)",
            "1:failure, the message names the file and the reason (check: the check could not run or complete, "
                    + "also for a bad command line, as qemu-img check)",
            "2:bad command line (check: corruption found)",
            "3:check: only leaked clusters; status: a volume is not serving"})
public final class Dmcowctl implements Callable<Integer> {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    /** A command whose exit status for a failure is not 1 (compare: 1 means different, as qemu-img's). */
    interface FailureStatus {
        int failureStatus();
    }

    /** A command whose failures may name these files: the error's {@code path} in JSON. */
    interface NamesFiles {
        List<Path> files();
    }

    @Spec
    private CommandSpec spec;

    private Dmcowctl() {
    }

    /** No command: the usage on stderr, exit 2. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one invocation; separate from {@link #main} so tests can call it. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        PrintWriter o = new PrintWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true);
        PrintWriter e = new PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true);
        CommandLine cl = new CommandLine(new Dmcowctl());
        cl.setOut(o).setErr(e);
        cl.setParameterExceptionHandler((ex, a) -> usageError(ex, a, o, e));
        cl.setExecutionExceptionHandler((ex, c, parsed) -> failed(ex, c, parsed, o, e));
        int status = cl.execute(args);
        o.flush();
        e.flush();
        return status;
    }

    private static int usageError(ParameterException ex, String[] args, PrintWriter out, PrintWriter err) {
        CommandLine c = ex.getCommandLine();
        if (Arrays.asList(args).contains("--json")) {
            out.println(errorDocument(ex.getMessage(), null));
        } else {
            String name = c.getCommandSpec().qualifiedName();
            CommandLine.Help help = c.getHelp();
            err.println(name + ": " + ex.getMessage());
            err.print(help.synopsisHeading() + help.synopsis(help.synopsisHeadingLength()));
            err.println("Try '" + name + " --help' for more information.");
        }
        // check's 2 means corruption; like qemu-img check, a bad command line is "not completed"
        return c.getCommandSpec().userObject() instanceof CheckCommand ? FAILED : USAGE;
    }

    private static int failed(Exception ex, CommandLine c, ParseResult parsed, PrintWriter out, PrintWriter err) {
        boolean expected = ex instanceof Failure || ex instanceof FormatException || ex instanceof ConfigException;
        String message = expected ? ex.getMessage() : ex.toString();
        ParseResult leaf = parsed;
        while (leaf.subcommand() != null) {
            leaf = leaf.subcommand();
        }
        if (leaf.hasMatchedOption("--json")) {
            out.println(errorDocument(message, pathOf(ex, c.getCommandSpec().userObject())));
        } else {
            err.println(c.getCommandSpec().qualifiedName() + ": " + message);
        }
        return c.getCommandSpec().userObject() instanceof FailureStatus f ? f.failureStatus() : FAILED;
    }

    /** The file an error is about: a {@link Failure}'s, or the command's file the message starts with. */
    private static Path pathOf(Exception ex, Object command) {
        if (ex instanceof Failure f) {
            return f.path();
        }
        if (command instanceof NamesFiles n && ex.getMessage() != null) {
            for (Path p : n.files()) {
                if (p != null && ex.getMessage().startsWith(p + ": ")) {
                    return p;
                }
            }
        }
        return null;
    }

    static String errorDocument(String message, Path path) {
        return Json.ObjectWriter.document().putJson("error", Json.ObjectWriter.object().put("message", message)
                .put("path", path == null ? null : path.toString()).toString()).toString();
    }

    /** {@code --version}: "dmcowctl VERSION". */
    static final class VersionProvider implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"dmcowctl " + Version.get()};
        }
    }
}
