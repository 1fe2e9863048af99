/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.format.CowSpace;
import org.dmcow.format.CowStore;
import org.dmcow.format.FormatException;

/**
 * Turns a space's zero chunks (qcow2 zero clusters: no mapping, yet they read as zeros) into
 * committed chunks of zeros, before the volume's device exists. The protocol cannot ask the kernel
 * to zero-fill a chunk no write faulted (a MAP answers a FAULT), so the daemon writes the zeros
 * itself through the store; once committed they are ordinary mappings, served by mapped segments.
 */
final class ZeroChunks {
    private ZeroChunks() {
    }

    /** Places, zero-fills, flushes and commits every zero chunk of {@code space}; returns how many. */
    static int commit(CowSpace space, CowStore store) throws IOException, FormatException {
        List<Long> chunks = new ArrayList<>();
        space.forEachZeroChunk(chunks::add);
        if (chunks.isEmpty()) {
            return 0;
        }
        ByteBuffer zeros = ByteBuffer.allocate((int) space.chunkSize());
        List<CowSpace.Mapping> mappings = new ArrayList<>(chunks.size());
        for (long chunk : chunks) {
            CowSpace.Placement p = space.place(chunk);
            store.write(zeros.clear(), p.place());
            mappings.add(new CowSpace.Mapping(chunk, p.place()));
        }
        store.flush(); // data before metadata
        space.commit(mappings);
        return mappings.size();
    }
}
