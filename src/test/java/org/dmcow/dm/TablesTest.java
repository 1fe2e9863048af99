/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.dmcow.format.Runs;
import org.junit.jupiter.api.Test;

class TablesTest {
    private static final Tables.Layout LAYOUT = new Tables.Layout("vm1", 1000, 128, "7:0", "7:1");

    @Test
    void noRunsIsOneCowSegment() {
        assertEquals(List.of(new DeviceMapper.Target(0, 1000, "cow", "vm1 7:0 7:1 128")),
                Tables.table(LAYOUT, List.of()));
    }

    @Test
    void runsBecomeLinearSegmentsAndTheLastChunkIsClipped() {
        List<DeviceMapper.Target> t = Tables.table(LAYOUT,
                List.of(new Runs.Run(0, 1, 8192), new Runs.Run(2, 2, 4096), new Runs.Run(7, 1, 65536)));
        assertEquals(List.of(new DeviceMapper.Target(0, 128, "linear", "7:1 16"),
                new DeviceMapper.Target(128, 128, "cow", "vm1 7:0 7:1 128"),
                new DeviceMapper.Target(256, 256, "linear", "7:1 8"),
                new DeviceMapper.Target(512, 384, "cow", "vm1 7:0 7:1 128"),
                new DeviceMapper.Target(896, 104, "linear", "7:1 128")), t);
        assertEquals(3, Tables.linearSegments(t));
    }
}
