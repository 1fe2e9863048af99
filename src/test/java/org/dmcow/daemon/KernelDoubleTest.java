/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import org.dmcow.host.LibC;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.MessageCodec;
import org.dmcow.protocol.Protocol;
import org.junit.jupiter.api.Test;

/** The double takes writes as dm-cow-ctl.c's write() does: 1 to MAX_WRITE_MSGS whole messages, else none. */
class KernelDoubleTest {
    private static final int CHUNK_SECTORS = 8;

    @Test
    void aWriteOverTheLimitIsRefusedWholeAndOneAtTheLimitIsTaken() throws Exception {
        KernelDouble kernel = new KernelDouble();
        int volume = attached(kernel, Protocol.MAX_WRITE_MSGS + 1);
        ByteBuffer maps = maps(volume, Protocol.MAX_WRITE_MSGS + 1);

        LibC.ErrnoException e = assertThrows(LibC.ErrnoException.class, () -> kernel.write(maps));
        assertEquals(LibC.EINVAL, e.errno());
        assertEquals(0, kernel.maps.get(), "a refused write applies none of its messages");
        assertEquals(0, maps.position());

        maps.limit(Protocol.MAX_WRITE_MSGS * Protocol.MSG_SIZE);
        assertEquals(Protocol.MAX_WRITE_MSGS * Protocol.MSG_SIZE, kernel.write(maps));
        assertEquals(Protocol.MAX_WRITE_MSGS, kernel.maps.get());
    }

    @Test
    void aWriteOfPartOfAMessageIsRefusedWhole() throws Exception {
        KernelDouble kernel = new KernelDouble();
        int volume = attached(kernel, 2);
        ByteBuffer maps = maps(volume, 2);
        maps.limit(Protocol.MSG_SIZE + Protocol.MSG_SIZE / 2);

        LibC.ErrnoException e = assertThrows(LibC.ErrnoException.class, () -> kernel.write(maps));
        assertEquals(LibC.EINVAL, e.errno());
        assertEquals(0, kernel.maps.get());
    }

    /** After the daemon's HELLO: a volume with {@code faults} unanswered faults, on chunks 0 up. */
    private static int attached(KernelDouble kernel, int faults) throws Exception {
        kernel.write(MessageCodec.encode(new ControlMessage.Hello(Protocol.PROTOCOL_VERSION, Protocol.MSG_SIZE, 0)));
        int volume = kernel.addVolume("v", 1L << 20, CHUNK_SECTORS);
        for (int chunk = 0; chunk < faults; chunk++) {
            kernel.write(volume, chunk, false);
        }
        return volume;
    }

    /** MAPs answering the first {@code n} faults of {@link #attached}, each chunk to its own place. */
    private static ByteBuffer maps(int volume, int n) {
        ByteBuffer b = ByteBuffer.allocate(n * Protocol.MSG_SIZE);
        for (int chunk = 0; chunk < n; chunk++) {
            MessageCodec.encode(new ControlMessage.Map(volume, chunk + 1, chunk, (long) chunk * CHUNK_SECTORS,
                    Protocol.FILL_ZERO), b);
        }
        return b.flip();
    }
}
