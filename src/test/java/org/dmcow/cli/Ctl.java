/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs {@link Dmcowctl#run} in the test's JVM and keeps what it printed. */
public record Ctl(int status, String out, String err) {
    public static Ctl run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Dmcowctl.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Ctl(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    public String firstErrLine() {
        return err.lines().findFirst().orElse("");
    }

    public String firstOutLine() {
        return out.lines().findFirst().orElse("");
    }

    @Override
    public String toString() {
        return "exit " + status + "\nstdout:\n" + out + "stderr:\n" + err;
    }
}
