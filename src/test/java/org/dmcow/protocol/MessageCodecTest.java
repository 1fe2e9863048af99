/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class MessageCodecTest {
    @Test
    void everyMessageRoundTrips() throws Exception {
        List<ControlMessage> all = List.of(new ControlMessage.Hello(1, 128, 8),
                new ControlMessage.Volume(3, 1 << 20, 1 << 21, 128, 0x700001, 0x700002, "vm17"),
                new ControlMessage.VolumeGone(3, "vm17"), new ControlMessage.Fault(3, 9, 77, 1),
                new ControlMessage.Granted(3, 78, 4096), new ControlMessage.Filled(3, 4, 77, 8192),
                new ControlMessage.Flush(3, 4), new ControlMessage.ReplayDone(), new ControlMessage.Discard(3, 77),
                new ControlMessage.Map(3, 9, 77, 8192, Protocol.FILL_NONE), new ControlMessage.Fail(3, 9, 77, 28),
                new ControlMessage.Committed(3, 77), new ControlMessage.Forget(3, 77),
                new ControlMessage.Granted(3, 79, 12288, 5), new ControlMessage.Filled(3, 5, 80, 16384, 5),
                grant(ControlMessage.Grant.Kind.GRANT, 512), grant(ControlMessage.Grant.Kind.GRANT_LIVE, 512, 0, 3, 511),
                grant(ControlMessage.Grant.Kind.REVOKED, 64, 63), new ControlMessage.Revoke(3, 5),
                new ControlMessage.GrantLow(3, 17));
        ByteBuffer b = ByteBuffer.allocate(all.size() * Protocol.MSG_SIZE);
        all.forEach(m -> MessageCodec.encode(m, b));
        b.flip();
        for (ControlMessage m : all) {
            assertEquals(m, MessageCodec.decode(b));
        }
        assertEquals(0, b.remaining());
    }

    @Test
    void fieldsSitWhereTheHeaderPutsThem() {
        ByteBuffer b = MessageCodec.encode(new ControlMessage.Map(5, 6, 7, 8, 2)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(Protocol.MSG_MAP, b.getInt(0));
        assertEquals(5, b.getInt(4));
        assertEquals(6, b.getLong(8));
        assertEquals(7, b.getLong(16));
        assertEquals(8, b.getLong(24));
        assertEquals(2, b.getInt(32));
    }

    @Test
    void malformedMessagesAreRefusedAndSkipped() {
        ByteBuffer b = ByteBuffer.allocate(2 * Protocol.MSG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 99);
        MessageCodec.encode(new ControlMessage.Flush(1, 2), b.position(Protocol.MSG_SIZE));
        b.position(0);
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> MessageCodec.decode(b));
        assertTrue(e.getMessage().contains("unknown message type 99"), e.getMessage());
        assertEquals(Protocol.MSG_SIZE, b.position());
    }

    @Test
    void badFieldsAreNamed() {
        ByteBuffer ident = MessageCodec.encode(new ControlMessage.Volume(1, 8, 8, 8, 0, 0, "x"));
        for (int i = 0; i < Protocol.IDENT_LEN; i++) {
            ident.put(Protocol.OFF_PAYLOAD + Protocol.VOL_IDENT + i, (byte) 'a');
        }
        assertThrows(MalformedMessageException.class, () -> MessageCodec.decode(ident));
        ByteBuffer chunk = MessageCodec.encode(new ControlMessage.Volume(1, 8, 8, 12, 0, 0, "x"));
        assertTrue(assertThrows(MalformedMessageException.class, () -> MessageCodec.decode(chunk)).getMessage()
                .contains("chunk_sectors 12"));
        ByteBuffer noVolume = MessageCodec.encode(new ControlMessage.Fault(0, 1, 1, 0));
        assertThrows(MalformedMessageException.class, () -> MessageCodec.decode(noVolume));
    }

    /** A grant message of {@code count} chunks from chunk 1024 at sector 65536, these slots used. */
    private static ControlMessage.Grant grant(ControlMessage.Grant.Kind kind, int count, int... used) {
        java.util.BitSet bits = new java.util.BitSet();
        for (int u : used) {
            bits.set(u);
        }
        return new ControlMessage.Grant(kind, 3, 5, 1024, 65536, count, Protocol.FILL_ZERO, bits);
    }

    @Test
    void aGrantWithASlotUsedBeyondItsCountIsMalformed() {
        ByteBuffer b = MessageCodec.encode(grant(ControlMessage.Grant.Kind.REVOKED, 8, 8));
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> MessageCodec.decode(b));
        assertTrue(e.getMessage().contains("slot 8 used beyond its 8 chunks"), e.getMessage());
    }
}
