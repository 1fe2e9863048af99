/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.dmcow.format.Runs;
import org.junit.jupiter.api.Test;

class TablesTest {
    private static final Tables.Layout LAYOUT = new Tables.Layout("vm1", 1000, 128, "7:0", "7:1");

    @Test
    void noRunsIsOneCowSegment() {
        assertEquals(List.of(new DeviceMapper.Target(0, 1000, "cow", "vm1 7:0 7:1 128")),
                Tables.table(LAYOUT, List.of(), false));
    }

    @Test
    void runsBecomeMappedCowSegmentsAndTheLastChunkIsClipped() {
        List<DeviceMapper.Target> t = Tables.table(LAYOUT,
                List.of(new Runs.Run(0, 1, 65536), new Runs.Run(2, 2, 131072), new Runs.Run(7, 1, 196608)), false);
        assertEquals(List.of(new DeviceMapper.Target(0, 128, "cow", "vm1 7:0 7:1 128 2 mapped 128"),
                new DeviceMapper.Target(128, 128, "cow", "vm1 7:0 7:1 128"),
                new DeviceMapper.Target(256, 256, "cow", "vm1 7:0 7:1 128 2 mapped 256"),
                new DeviceMapper.Target(512, 384, "cow", "vm1 7:0 7:1 128"),
                new DeviceMapper.Target(896, 104, "cow", "vm1 7:0 7:1 128 2 mapped 384")), t);
        assertEquals(3, Tables.mappedSegments(t));
        assertTrue(Tables.isMapped(t.get(0)));
        assertFalse(Tables.isMapped(t.get(1)));
    }

    @Test
    void discardUnmapIsAnOptionOfEverySegment() {
        List<DeviceMapper.Target> t = Tables.table(LAYOUT, List.of(new Runs.Run(2, 2, 131072)), true);
        assertEquals(List.of(new DeviceMapper.Target(0, 256, "cow", "vm1 7:0 7:1 128 1 discard_unmap"),
                new DeviceMapper.Target(256, 256, "cow", "vm1 7:0 7:1 128 3 mapped 256 discard_unmap"),
                new DeviceMapper.Target(512, 488, "cow", "vm1 7:0 7:1 128 1 discard_unmap")), t);
        assertEquals(1, Tables.mappedSegments(t));
        assertFalse(Tables.isMapped(t.get(0)));
    }
}
