/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --base BASE} of the offline commands that read a space over its base. */
final class SpaceBaseOption {
    @Option(names = "--base", paramLabel = "BASE", description = "the space's base (default: the backing file a "
            + "qcow2 space records; a native space needs it)")
    private Path base;

    /** The base given, or null: the one the space records. */
    Path given() {
        return base;
    }
}
