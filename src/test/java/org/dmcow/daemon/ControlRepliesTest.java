/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.MessageCodec;
import org.dmcow.protocol.Protocol;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The reply writer: answers to faults go out before queued COMMITTED and FORGET bursts. */
class ControlRepliesTest {
    static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void stopKit() {
        KIT.shutdownTestKit();
    }

    /** Says HELLO once; records what is written, holding the first write until released. */
    private static final class SlowDevice implements ControlDevice {
        final CountDownLatch holding = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final List<ControlMessage> written = new ArrayList<>();
        private boolean helloSent;
        private int writes;

        @Override
        public int read(ByteBuffer dst) {
            if (helloSent) {
                return -1;
            }
            helloSent = true;
            dst.put(MessageCodec.encode(
                    new ControlMessage.Hello(Protocol.PROTOCOL_VERSION, Protocol.MSG_SIZE, 4)));
            return Protocol.MSG_SIZE;
        }

        @Override
        public int write(ByteBuffer src) throws java.io.IOException {
            int n = src.remaining();
            if (writes == 0) { // the daemon's HELLO
                writes++;
                src.position(src.limit());
                return n;
            }
            if (writes++ == 1) { // hold the first batch of replies
                holding.countDown();
                try {
                    release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
            }
            synchronized (written) {
                while (src.hasRemaining()) {
                    try {
                        written.add(MessageCodec.decode(src));
                    } catch (org.dmcow.protocol.MalformedMessageException e) {
                        throw new java.io.IOException(e);
                    }
                }
            }
            return n;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aFaultsAnswerOvertakesQueuedCommits() throws Exception {
        SlowDevice device = new SlowDevice();
        ControlChannel channel = ControlChannel.handshake(device, 64);
        ControlChannel.Replies replies = channel.startReplies(KIT.system(), 1024, 64);
        int bulk = 300;
        for (int c = 0; c < bulk; c++) {
            assertTrue(replies.offer(new ControlMessage.Committed(1, c)));
        }
        // the writer holds its first batch; the stages before it fill up with COMMITTED meanwhile
        assertTrue(device.holding.await(20, TimeUnit.SECONDS));
        Thread.sleep(200);
        ControlMessage.Map map = new ControlMessage.Map(1, 7, 1000, 2048, Protocol.FILL_COPY);
        assertTrue(replies.offer(map));
        device.release.countDown();
        replies.complete().toCompletableFuture().get(20, TimeUnit.SECONDS);
        List<ControlMessage> written;
        synchronized (device.written) {
            written = List.copyOf(device.written);
        }
        assertEquals(bulk + 1, written.size());
        // the writer held one batch and the batch stage one more when the answer came (plus one
        // COMMITTED in each stage between): it goes out right after those, not after the hundreds
        // of COMMITTED queued before it
        int at = written.indexOf(map);
        assertTrue(at <= 2 * 64 + 4, "the MAP went out as message " + at + " of " + written.size());
    }

    @Test
    void aBatchTheModuleWouldRefuseWholeIsRefused() throws Exception {
        ControlChannel channel = ControlChannel.handshake(new SlowDevice(), 64);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> channel.startReplies(KIT.system(), 1024, Protocol.MAX_WRITE_MSGS + 1));
        assertTrue(e.getMessage().contains("1 to " + Protocol.MAX_WRITE_MSGS + " messages"), e.getMessage());
    }
}
