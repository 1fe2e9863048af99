package org.dmcow.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunsTest {
    private static final long CHUNK = 65536;

    @Test
    void joinsChunksAdjacentInVolumeAndSpace() {
        List<Runs.Run> out = new ArrayList<>();
        Runs runs = new Runs(CHUNK, out::add);
        runs.mapping(10, 0);
        runs.mapping(11, CHUNK);
        runs.mapping(12, 2 * CHUNK);
        runs.mapping(13, 7 * CHUNK); // adjacent in the volume only
        runs.mapping(15, 8 * CHUNK); // adjacent in the space only
        assertEquals(3, runs.finish());
        assertEquals(List.of(new Runs.Run(10, 3, 0), new Runs.Run(13, 1, 7 * CHUNK), new Runs.Run(15, 1, 8 * CHUNK)),
                out);
    }

    @Test
    void emptyHasNoRuns() {
        assertEquals(0, new Runs(CHUNK, r -> { }).finish());
    }

    @Test
    void refusesMappingsOutOfOrder() {
        Runs runs = new Runs(CHUNK, r -> { });
        runs.mapping(5, 0);
        assertThrows(IllegalArgumentException.class, () -> runs.mapping(5, CHUNK));
    }
}
