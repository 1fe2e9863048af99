/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/** {@code dmcowctl}: the operator's tool. Each subcommand is one class; this only dispatches. */
public final class Dmcowctl {
    /** A subcommand: returns the process exit status. */
    public interface Command {
        String summary();

        int run(String[] args, PrintStream out, PrintStream err) throws Exception;
    }

    private static Map<String, Command> commands() {
        Map<String, Command> c = new TreeMap<>();
        c.put("version", new VersionCommand());
        c.put("format", new FormatCommand());
        c.put("check", new CheckCommand());
        c.put("info", new InfoCommand());
        c.put("status", new StatusCommand());
        return c;
    }

    private Dmcowctl() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one invocation; separate from {@link #main} so tests can call it. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Map<String, Command> commands = commands();
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage(commands, args.length == 0 ? err : out);
            return args.length == 0 ? 2 : 0;
        }
        Command command = commands.get(args[0]);
        if (command == null) {
            err.println("dmcowctl: unknown command \"" + args[0] + "\"");
            usage(commands, err);
            return 2;
        }
        try {
            return command.run(Arrays.copyOfRange(args, 1, args.length), out, err);
        } catch (UsageException e) {
            err.println("dmcowctl " + args[0] + ": " + e.getMessage());
            return 2;
        } catch (Exception e) {
            err.println("dmcowctl " + args[0] + ": " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        }
    }

    private static void usage(Map<String, Command> commands, PrintStream to) {
        to.println("usage: dmcowctl COMMAND [ARGS]");
        commands.forEach((name, c) -> to.printf("  %-10s %s%n", name, c.summary()));
    }

    /** Bad arguments: exit status 2 and the message. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        public UsageException(String message) {
            super(message);
        }
    }

    private static final class VersionCommand implements Command {
        @Override
        public String summary() {
            return "print the version";
        }

        @Override
        public int run(String[] args, PrintStream out, PrintStream err) {
            out.println("dmcowctl " + Version.get());
            return 0;
        }
    }
}
