/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import org.dmcow.util.Json;

/**
 * The answer to an add or remove: {@code outcome} is one of {@link Outcome}'s words, {@code message}
 * says why (the refusal's cause, the device's holder) or what happened.
 */
public record VolumeChange(String volume, Outcome outcome, String message) {
    /** How an add or remove ended; dmcowctl's exit status follows from it. */
    public enum Outcome {
        ADDED, REMOVED,
        /** Added and persisted, but not serving within --wait. */
        NOT_SERVING,
        /** Invalid, conflicting, unknown or not the API's to remove: nothing changed. */
        REFUSED,
        /** The device is open: it keeps serving, its NAME.conf stays. */
        BUSY,
        /** Could not be done (e.g. the .conf could not be written): nothing changed. */
        FAILED;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    public String json() {
        return Json.ObjectWriter.document().put("volume", volume).put("outcome", outcome.word())
                .put("message", message) + "\n";
    }
}
