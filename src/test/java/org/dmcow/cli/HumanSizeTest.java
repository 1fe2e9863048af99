/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Sizes as qemu-img prints them, without the space and "iB". */
class HumanSizeTest {
    @Test
    void threeSignificantDigitsInBinaryUnits() {
        assertEquals("0", HumanSize.of(0));
        assertEquals("999", HumanSize.of(999));
        assertEquals("0.977K", HumanSize.of(1000));
        assertEquals("1K", HumanSize.of(1024));
        assertEquals("64K", HumanSize.of(65536));
        assertEquals("78.1M", HumanSize.of(1250L * 65536));
        assertEquals("100M", HumanSize.of(100L << 20));
        assertEquals("1.5G", HumanSize.of(3L << 29));
        assertEquals("1T", HumanSize.of(1023L * (1L << 30) + (1L << 29) + 1)); // 1023.5G rounds up a unit
        assertEquals("8E", HumanSize.of(Long.MAX_VALUE));
    }

    @Test
    void usePercentRoundsUpAsDfDoes() {
        assertEquals("25%", StatusTable.usePercent(1, 3));
        assertEquals("1%", StatusTable.usePercent(1, 999));
        assertEquals("100%", StatusTable.usePercent(5, 0));
        assertEquals("0%", StatusTable.usePercent(0, 5));
        assertEquals("-", StatusTable.usePercent(0, 0));
    }
}
