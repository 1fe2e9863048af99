/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.dmcow.config.DaemonConfig;
import org.dmcow.daemon.AdminServer;

/** {@code dmcowctl status [--json] [--socket PATH | --config FILE]}: the live daemon's volumes. */
final class StatusCommand implements Dmcowctl.Command {
    static final Path DEFAULT_SOCKET = Path.of("/run/dmcow/dmcowd.sock");

    @Override
    public String summary() {
        return "show the running daemon's volumes [--json] [--socket PATH | --config FILE]";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        boolean json = false;
        Path socket = DEFAULT_SOCKET;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--json" -> json = true;
                case "--socket" -> {
                    if (i + 1 == args.length) {
                        throw new Dmcowctl.UsageException("--socket needs a path");
                    }
                    socket = Path.of(args[++i]);
                }
                case "--config" -> {
                    if (i + 1 == args.length) {
                        throw new Dmcowctl.UsageException("--config needs a file");
                    }
                    socket = DaemonConfig.load(Path.of(args[++i])).adminSocket();
                }
                default -> throw new Dmcowctl.UsageException("unknown argument \"" + args[i] + "\"");
            }
        }
        String answer;
        try {
            answer = AdminServer.ask(socket, json ? "status-json" : "status");
        } catch (IOException e) {
            err.println("dmcowctl status: cannot reach dmcowd at " + socket + ": " + e.getMessage()
                    + " (is it running?)");
            return 1;
        }
        out.print(answer);
        return answer.startsWith("error:") ? 1 : 0;
    }
}
