/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.dmcow.cli.Version;

/** {@code dmcowd}: the allocation daemon. */
public final class Dmcowd {
    private Dmcowd() {
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("--version")) {
            System.out.println("dmcowd " + Version.get());
            return;
        }
        System.err.println("dmcowd: the daemon is not built yet (see the open issues); only --version works");
        System.exit(2);
    }
}
