/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CheckReport.Finding;
import org.junit.jupiter.api.Test;

/** check's exit status from its findings, worst first, as qemu-img check's. */
class CheckResultTest {
    private static int exit(String... codes) {
        List<Finding> findings = java.util.Arrays.stream(codes).map(c -> new Finding(c, "x")).toList();
        return CheckCommand.Result.of(new CheckReport(Path.of("s"), "qcow2", findings)).exitStatus;
    }

    @Test
    void worstFindingDecides() {
        assertEquals(0, exit());
        assertEquals(3, exit("leaked-clusters"));
        assertEquals(2, exit("leaked-clusters", "refcount-too-low"));
        assertEquals(2, exit("wrong-base"));
        assertEquals(1, exit("refcount-too-low", "compressed-cluster"));
        assertEquals(1, exit("unsupported"));
        assertEquals(1, exit("unknown-feature"));
    }
}
