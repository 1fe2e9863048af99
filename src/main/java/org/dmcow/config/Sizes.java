/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import java.util.Locale;

/** Byte sizes as operators write them: {@code 512}, {@code 64k}, {@code 1M}, {@code 2GiB}. */
public final class Sizes {
    private Sizes() {
    }

    /**
     * Parses a size with an optional binary suffix (k, M, G, T; "iB" and "B" accepted).
     *
     * @throws IllegalArgumentException naming the text when it is not a size
     */
    public static long parse(String text) {
        String t = text.trim();
        String lower = t.toLowerCase(Locale.ROOT);
        if (lower.endsWith("ib")) {
            lower = lower.substring(0, lower.length() - 2);
        } else if (lower.endsWith("b")) {
            lower = lower.substring(0, lower.length() - 1);
        }
        int shift = 0;
        if (!lower.isEmpty()) {
            switch (lower.charAt(lower.length() - 1)) {
                case 'k' -> shift = 10;
                case 'm' -> shift = 20;
                case 'g' -> shift = 30;
                case 't' -> shift = 40;
                default -> shift = 0;
            }
        }
        String digits = shift == 0 ? lower : lower.substring(0, lower.length() - 1);
        long value;
        try {
            value = Long.parseLong(digits.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: \"" + text + "\" (expected e.g. 512, 64k, 1M, 2G)");
        }
        if (value < 0) {
            throw new IllegalArgumentException("negative size: \"" + text + "\"");
        }
        if (shift > 0 && value > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("size too large: \"" + text + "\"");
        }
        return value << shift;
    }

    /** Formats a byte count with the largest binary suffix that keeps it exact. */
    public static String format(long bytes) {
        String[] units = {"", "k", "M", "G", "T"};
        int unit = 0;
        long v = bytes;
        while (unit < units.length - 1 && v != 0 && (v & 1023) == 0) {
            v >>= 10;
            unit++;
        }
        return v + units[unit];
    }
}
