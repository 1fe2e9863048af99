/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a volume asks of its allocator while it handles one message, sent after it in order. The
 * chunks to place go in one Place, last: one for the faults of a read, not one per fault.
 */
final class AllocatorRequests {
    private final List<Allocator.Command> requests = new ArrayList<>();
    private long[] toPlace = new long[64];
    private int toPlaceCount;

    void add(Allocator.Command c) {
        requests.add(c);
    }

    void place(long chunk) {
        if (toPlaceCount == toPlace.length) {
            toPlace = Arrays.copyOf(toPlace, 2 * toPlaceCount);
        }
        toPlace[toPlaceCount++] = chunk;
    }

    /** The requests since the last call, in order, then the one Place; cleared. */
    List<Allocator.Command> take() {
        if (toPlaceCount > 0) {
            requests.add(new Allocator.Place(Arrays.copyOf(toPlace, toPlaceCount)));
            toPlaceCount = 0;
        }
        List<Allocator.Command> out = List.copyOf(requests);
        requests.clear();
        return out;
    }
}
