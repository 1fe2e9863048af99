/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.util.Locale;

/** Byte counts for people, as qemu-img prints them: three significant digits, binary units ({@code 78.1M}). */
final class HumanSize {
    private static final String UNITS = "KMGTPE";

    private HumanSize() {
    }

    static String of(long bytes) {
        if (bytes < 1000) {
            return Long.toString(bytes);
        }
        double v = bytes;
        int unit = -1;
        // move up a unit while three significant digits would round to 1000 or more
        while (unit < UNITS.length() - 1 && Double.parseDouble(String.format(Locale.ROOT, "%.3g", v)) >= 1000) {
            v /= 1024;
            unit++;
        }
        String digits = String.format(Locale.ROOT, "%.3g", v);
        if (digits.contains(".")) {
            digits = digits.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return digits + UNITS.charAt(unit);
    }

    /** {@code 16M (16777216 bytes)}, as qemu-img info prints sizes. */
    static String withBytes(long bytes) {
        return of(bytes) + " (" + bytes + " bytes)";
    }
}
