/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** The CoW space: an operand, as qemu-img takes its image, or {@code --cow SPACE} as earlier scripts write it. */
final class SpaceArgument {
    @Parameters(index = "0", arity = "0..1", paramLabel = "SPACE", description = "the CoW space (file or block device)")
    private Path operand;

    @Option(names = "--cow", paramLabel = "SPACE", description = "the CoW space, as SPACE (kept for earlier scripts)")
    private Path option;

    /** The space given once, as operand or option; a usage error otherwise. */
    Path path(CommandSpec spec) {
        if (operand != null && option != null && !operand.equals(option)) {
            throw new ParameterException(spec.commandLine(), "two CoW spaces given (" + operand + " and --cow "
                    + option + "); give one, as SPACE or --cow");
        }
        if (operand == null && option == null) {
            throw new ParameterException(spec.commandLine(), "Missing required parameter: 'SPACE'");
        }
        return operand != null ? operand : option;
    }

    /** The space given, or null: for naming it in errors. */
    Path given() {
        return operand != null ? operand : option;
    }
}
