/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * The progress line {@code qemu-img -p} prints, {@code "    (42.00/100%)"} rewritten in place
 * with a carriage return, at most once per percent so a slow terminal never slows the work.
 */
public final class Progress {
    private static final Progress NONE = new Progress(null);

    private final PrintWriter out;
    private long shownHundredths = -1;

    private Progress(PrintWriter out) {
        this.out = out;
    }

    public static Progress none() {
        return NONE;
    }

    public static Progress to(PrintWriter out) {
        return new Progress(out);
    }

    /** {@code done} of {@code total} units are done. */
    public void at(long done, long total) {
        if (out == null) {
            return;
        }
        long hundredths = total == 0 ? 10000 : (long) (10000.0 * done / total);
        if (shownHundredths >= 0 && hundredths - shownHundredths < 100 && hundredths < 10000) {
            return;
        }
        if (hundredths == shownHundredths) {
            return;
        }
        shownHundredths = hundredths;
        out.print(String.format(Locale.ROOT, "    (%.2f/100%%)\r", hundredths / 100.0));
        out.flush();
    }

    /** Ends the line once the work is over, so what follows starts on a fresh one. */
    public void finish() {
        if (out != null && shownHundredths >= 0) {
            out.println();
            out.flush();
        }
    }
}
