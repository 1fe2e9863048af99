/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import org.dmcow.lifecycle.Progress;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** {@code -p}: qemu-img's progress line, on stderr; shown by itself on a terminal unless the output is JSON. */
final class ProgressOption {
    @Option(names = {"-p", "--progress"}, description = "show a progress line on stderr (default: on a terminal, "
            + "without --json)")
    private boolean progress;

    Progress of(CommandSpec spec, boolean json) {
        boolean show = progress || (!json && System.console() != null);
        return show ? Progress.to(spec.commandLine().getErr()) : Progress.none();
    }
}
