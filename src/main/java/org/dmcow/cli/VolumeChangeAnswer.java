/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import org.dmcow.admin.VolumeChange;

/** Prints the daemon's answer to an add or remove and turns its outcome into the exit status. */
final class VolumeChangeAnswer {
    static final int REFUSED = 3;
    static final int BUSY = 4;
    static final int NOT_SERVING = 5;
    private VolumeChangeAnswer() {
    }

    static int print(DaemonSocket.Answer a, boolean json, PrintWriter out, PrintWriter err) {
        String outcome = a.json().getString("outcome");
        String message = a.json().getString("message");
        String volume = a.json().getString("volume");
        if (json) {
            out.print(a.text());
        }
        for (VolumeChange.Outcome o : VolumeChange.Outcome.values()) {
            if (o.word().equals(outcome)) {
                int status = switch (o) {
                    case ADDED, REMOVED -> Dmcowctl.OK;
                    case REFUSED -> REFUSED;
                    case BUSY -> BUSY;
                    case NOT_SERVING -> NOT_SERVING;
                    case FAILED -> Dmcowctl.FAILED;
                };
                if (!json) {
                    (status == Dmcowctl.OK ? out : err).println(volume + ": " + outcome + ": " + message);
                }
                return status;
            }
        }
        err.println(volume + ": dmcowd answered an unknown outcome \"" + outcome + "\": " + message);
        return Dmcowctl.FAILED;
    }
}
