/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

/**
 * A histogram as it was when asked: {@code cumulative[i]} observations were at most
 * {@code upperBounds[i]}; {@code count} is every observation (the {@code +Inf} bucket), {@code sum}
 * their total.
 */
public record Histogram(double[] upperBounds, long[] cumulative, long count, double sum) {
    /** No observations, for a volume that does not count (a refused config). */
    public static Histogram empty(double[] upperBounds) {
        return new Histogram(upperBounds, new long[upperBounds.length], 0, 0);
    }
}
