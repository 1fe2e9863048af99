/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import java.util.Collection;
import java.util.Optional;

/** The message for a key nobody reads: a misspelt key would otherwise be a silently ignored setting. */
final class UnknownKeys {
    private UnknownKeys() {
    }

    /** "chunk-sise: unknown key; did you mean chunk-size?", or the known keys when none is close. */
    static String message(String key, Collection<String> known) {
        return key + ": unknown key; " + nearest(key, known).map(k -> "did you mean " + k + "?")
                .orElse("the known ones are " + String.join(", ", known));
    }

    /** The known key fewest edits away, if it is close enough to be a misspelling of {@code key}. */
    static Optional<String> nearest(String key, Collection<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(key, k);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        return bestDistance <= Math.max(2, key.length() / 3) ? Optional.ofNullable(best) : Optional.empty();
    }

    /** Levenshtein distance: insertions, deletions and substitutions. */
    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }
}
