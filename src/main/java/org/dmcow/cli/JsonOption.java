/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import picocli.CommandLine.Option;

/** {@code --json} of the commands that print one result; an error is then a JSON document too ({@link Dmcowctl}). */
final class JsonOption {
    @Option(names = "--json", description = "the result as one JSON document")
    private boolean json;

    boolean on() {
        return json;
    }
}
