package org.dmcow.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SizesTest {
    @Test
    void parsesPlainAndSuffixedSizes() {
        assertEquals(512, Sizes.parse("512"));
        assertEquals(64 * 1024, Sizes.parse("64k"));
        assertEquals(64 * 1024, Sizes.parse("64K"));
        assertEquals(1L << 20, Sizes.parse("1M"));
        assertEquals(2L << 30, Sizes.parse("2GiB"));
        assertEquals(3L << 40, Sizes.parse("3TB"));
    }

    @Test
    void refusesGarbageNamingTheText() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse("64q"));
        assertTrue(e.getMessage().contains("64q"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("-1k"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("9999999999T"));
    }

    @Test
    void formatsExactly() {
        assertEquals("64k", Sizes.format(65536));
        assertEquals("1536", Sizes.format(1536));
        assertEquals("3G", Sizes.format(3L << 30));
        assertEquals("0", Sizes.format(0));
    }
}
