/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.dmcow.admin.DaemonMetrics;
import org.dmcow.host.LibC;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.MalformedMessageException;
import org.dmcow.protocol.MessageCodec;
import org.dmcow.protocol.Protocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control device as streams. Kernel messages: a source reading whole messages with blocking
 * reads on {@link #DISPATCHER}, each handed to the volume set and counted in flight until the
 * volume accepts it, so the device is never read faster than volumes consume. Replies: a bounded
 * queue whose messages are written in batches (many per write) on the write descriptor.
 */
public final class ControlChannel {
    public static final String DISPATCHER = "dmcow-control-dispatcher";
    private static final Logger LOG = LoggerFactory.getLogger(ControlChannel.class);

    /** The kernel and the daemon speak different protocol versions. */
    public static final class ProtocolMismatchException extends IOException {
        private static final long serialVersionUID = 1L;

        ProtocolMismatchException(String message) {
            super(message);
        }
    }

    private final ControlDevice device;
    private final MessageReader reader;
    private final AtomicLong accepted = new AtomicLong();
    private final KernelTraffic traffic = new KernelTraffic();

    private ControlChannel(ControlDevice device, int readMessages) {
        this.device = device;
        this.reader = new MessageReader(readMessages);
    }

    /**
     * Reads the kernel's HELLO, checks its version and answers with ours. {@code readMessages}:
     * how many messages one read may return.
     */
    public static ControlChannel handshake(ControlDevice device, int readMessages) throws IOException {
        ControlChannel c = new ControlChannel(device, readMessages);
        ByteBuffer first = c.reader.nextRaw(device);
        if (first == null) {
            throw new IOException("the control device closed before the kernel's HELLO");
        }
        int type = first.order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(first.position() + Protocol.OFF_TYPE);
        ControlMessage m;
        try {
            m = MessageCodec.decode(first);
        } catch (MalformedMessageException e) {
            throw new IOException("the kernel's first message is not a valid HELLO: " + e.getMessage());
        }
        if (!(m instanceof ControlMessage.Hello hello)) {
            throw new IOException("the kernel's first message is type " + type + ", not HELLO");
        }
        if (hello.version() != Protocol.PROTOCOL_VERSION || hello.msgSize() != Protocol.MSG_SIZE) {
            throw new ProtocolMismatchException("kernel module speaks protocol " + hello.version() + " (messages of "
                    + hello.msgSize() + " bytes), this dmcowd speaks " + Protocol.PROTOCOL_VERSION + " ("
                    + Protocol.MSG_SIZE + " bytes): load the dm-cow module of this release (protocol 4: grants,"
                    + " target 1.4.0)");
        }
        ByteBuffer ours = MessageCodec.encode(
                new ControlMessage.Hello(Protocol.PROTOCOL_VERSION, Protocol.MSG_SIZE, 0));
        while (ours.hasRemaining()) {
            device.write(ours);
        }
        LOG.info("attached to the kernel: protocol {}, {} copies at once", hello.version(), hello.maxCopies());
        return c;
    }

    /** Malformed kernel messages skipped so far. */
    public long malformed() {
        return traffic.errors(KernelTraffic.Error.MALFORMED);
    }

    /** Messages read and written, errors: the daemon's own metrics. */
    public DaemonMetrics metrics() {
        return traffic.metrics();
    }

    /** Kernel messages their volumes have taken so far (the HELLO excluded). */
    public long accepted() {
        return accepted.get();
    }

    /** Replies the kernel refused (EINVAL) so far. */
    public long rejected() {
        return traffic.errors(KernelTraffic.Error.REFUSED);
    }

    /**
     * Runs the kernel-to-daemon stream: each read's messages go to {@code volumes} as one
     * {@link VolumeSet.FromKernel} (one ask per read, not per message); about {@code inFlight}
     * messages, in whole reads and at least one, are awaiting acceptance at a time.
     */
    public CompletionStage<Done> run(ActorSystem<?> system, ActorRef<VolumeSet.Command> volumes, int inFlight) {
        int reads = Math.max(1, (inFlight + reader.messages - 1) / reader.messages);
        // The ask's stage is Scala's: its non-async callbacks still run on the JDK's default
        // executor, which starts a thread per task on hosts with fewer than 3 cores. Ours run on
        // the actor system's own pool.
        Executor actors = system.executionContext();
        return Source.unfoldResource(() -> reader, r -> r.next(), r -> { })
                .withAttributes(ActorAttributes.dispatcher(DISPATCHER))
                .mapAsyncUnordered(reads, batch -> AskPattern.<VolumeSet.Command, Done>ask(volumes,
                        replyTo -> new VolumeSet.FromKernel(batch, replyTo), Tuning.ACCEPT_TIMEOUT, system.scheduler())
                        .handleAsync((done, e) -> {
                            if (e == null) {
                                accepted.addAndGet(batch.size());
                            } else {
                                traffic.error(KernelTraffic.Error.ACCEPT_TIMEOUT);
                                LOG.warn("the volumes did not accept a read of {} messages within {}: reading on",
                                        batch.size(), Tuning.ACCEPT_TIMEOUT);
                            }
                            return Done.getInstance();
                        }, actors))
                // no read-ahead beyond one read's messages: memory stays bounded under a storm
                .addAttributes(Attributes.inputBuffer(1, 1))
                .runWith(Sink.ignore(), system);
    }

    /**
     * The reply side: two queues of {@code capacity} messages each, written in batches of up to
     * {@code batch}. MAP and FAIL answer a fault a guest waits for, GRANT spares the next ones (its
     * REVOKE follows it in the same queue); COMMITTED and FORGET come in
     * bursts of thousands after a commit or reload and nobody waits for them. A batch takes the
     * first kind before the second, so a fault's answer is not queued behind a commit's burst.
     * The order within each kind is kept; across kinds none is needed (a chunk is MAPped before
     * it fills, so before it can be committed). A batch over {@link Protocol#MAX_WRITE_MSGS} is
     * refused: the module would refuse every such write whole, leaving one message per write.
     */
    public Replies startReplies(ActorSystem<?> system, int capacity, int batch) {
        if (batch < 1 || batch > Protocol.MAX_WRITE_MSGS) {
            throw new IllegalArgumentException("a batch of " + batch + " replies: one write() takes 1 to "
                    + Protocol.MAX_WRITE_MSGS + " messages");
        }
        Executor blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig(DISPATCHER));
        Source<ControlMessage, BoundedSourceQueue<ControlMessage>> urgent = Source.queue(capacity);
        Source<ControlMessage, BoundedSourceQueue<ControlMessage>> bulk = Source.queue(capacity);
        Pair<Pair<BoundedSourceQueue<ControlMessage>, BoundedSourceQueue<ControlMessage>>, CompletionStage<Done>> p =
                // preferred = true: the first (urgent) source wins; false would prefer bulk
                urgent.mergePreferredMat(bulk, true, false, Keep.both())
                .batch(batch, m -> {
                    List<ControlMessage> l = new ArrayList<>();
                    l.add(m);
                    return l;
                }, (l, m) -> {
                    l.add(m);
                    return l;
                })
                .mapAsync(1, l -> CompletableFuture.supplyAsync(() -> {
                    try {
                        writeBatch(l);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    return Done.getInstance();
                }, blocking))
                .toMat(Sink.ignore(), Keep.both())
                .run(system);
        return new Replies(p.first().first(), p.first().second(), p.second());
    }

    /** Where volumes put replies; {@link #complete()} drains and stops the writer. */
    public static final class Replies implements KernelReplies {
        private final BoundedSourceQueue<ControlMessage> urgent;
        private final BoundedSourceQueue<ControlMessage> bulk;
        private final CompletionStage<Done> written;

        Replies(BoundedSourceQueue<ControlMessage> urgent, BoundedSourceQueue<ControlMessage> bulk,
                CompletionStage<Done> written) {
            this.urgent = urgent;
            this.bulk = bulk;
            this.written = written;
        }

        @Override
        public boolean offer(ControlMessage message) {
            // GRANT and REVOKE share a queue: a REVOKE must never pass its GRANT
            boolean answer = message instanceof ControlMessage.Map || message instanceof ControlMessage.Fail
                    || message instanceof ControlMessage.Grant || message instanceof ControlMessage.Revoke;
            QueueOfferResult r = (answer ? urgent : bulk).offer(message);
            if (r == QueueOfferResult.dropped()) {
                return false;
            }
            if (r != QueueOfferResult.enqueued()) {
                // closed or failed: the writer is gone, which ends the daemon anyway
                throw new IllegalStateException("reply queue refused " + message + ": " + r);
            }
            return true;
        }

        public CompletionStage<Done> complete() {
            urgent.complete();
            bulk.complete();
            return written;
        }

        public CompletionStage<Done> written() {
            return written;
        }
    }

    /**
     * Writes a batch. A transient error is retried; EINVAL means the kernel refused a message:
     * the batch is sent again one message at a time, each refused one logged and dropped (a
     * message the kernel applied before the bad one is refused as a repeat), never retried.
     */
    void writeBatch(List<ControlMessage> batch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(batch.size() * Protocol.MSG_SIZE);
        batch.forEach(m -> MessageCodec.encode(m, b));
        b.flip();
        int failures = 0;
        while (b.hasRemaining()) {
            try {
                int before = b.position();
                device.write(b);
                for (int i = before / Protocol.MSG_SIZE; i < b.position() / Protocol.MSG_SIZE; i++) {
                    traffic.written(batch.get(i));
                }
                failures = 0;
            } catch (LibC.ErrnoException e) {
                if (e.errno() == LibC.EINVAL) {
                    List<ControlMessage> rest = batch.subList(b.position() / Protocol.MSG_SIZE, batch.size());
                    LOG.error("the kernel refused a batch of {} messages (EINVAL); sending them one at a time to "
                            + "find the bad one", rest.size());
                    writeOneByOne(rest);
                    return;
                }
                failures = retry(e, failures);
            } catch (IOException e) {
                failures = retry(e, failures);
            }
        }
    }

    private int retry(IOException e, int failures) throws IOException {
        traffic.error(KernelTraffic.Error.WRITE_RETRY);
        if (failures + 1 >= Tuning.WRITE_ATTEMPTS) {
            throw new IOException("writing to the kernel failed " + Tuning.WRITE_ATTEMPTS + " times: " + e.getMessage(), e);
        }
        LOG.warn("writing to the kernel failed, retrying: {}", e.getMessage());
        try {
            Thread.sleep(Tuning.WRITE_RETRY_FIRST_WAIT.toMillis() << failures);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw e;
        }
        return failures + 1;
    }

    private void writeOneByOne(List<ControlMessage> messages) throws IOException {
        for (ControlMessage m : messages) {
            ByteBuffer one = MessageCodec.encode(m);
            int failures = 0;
            while (one.hasRemaining()) {
                try {
                    device.write(one);
                    if (!one.hasRemaining()) {
                        traffic.written(m);
                    }
                } catch (LibC.ErrnoException e) {
                    if (e.errno() != LibC.EINVAL) {
                        failures = retry(e, failures);
                        continue;
                    }
                    traffic.error(KernelTraffic.Error.REFUSED);
                    LOG.error("THE KERNEL REFUSED A MESSAGE, dropped: {}", m);
                    break;
                } catch (IOException e) {
                    failures = retry(e, failures);
                }
            }
        }
    }

    /** Splits reads into whole messages; malformed ones are logged and skipped. */
    private final class MessageReader {
        /** At most this many per read. */
        final int messages;
        private final ByteBuffer buf;

        MessageReader(int messages) {
            this.messages = Math.max(1, messages);
            buf = ByteBuffer.allocate(this.messages * Protocol.MSG_SIZE);
            buf.flip();
        }

        /** The next whole message's bytes, reading when none is buffered; null at the end. */
        ByteBuffer nextRaw(ControlDevice dev) throws IOException {
            if (buf.remaining() < Protocol.MSG_SIZE && !fill(dev)) {
                return null;
            }
            ByteBuffer one = buf.slice(buf.position(), Protocol.MSG_SIZE);
            buf.position(buf.position() + Protocol.MSG_SIZE);
            return one;
        }

        private boolean fill(ControlDevice dev) throws IOException {
            buf.compact();
            try {
                while (buf.position() < Protocol.MSG_SIZE) {
                    if (dev.read(buf) < 0) {
                        return false;
                    }
                }
                return true;
            } finally {
                buf.flip();
            }
        }

        /** The messages of the next read (one or more); empty at the end of the device. */
        Optional<List<ControlMessage>> next() throws IOException {
            while (true) {
                if (buf.remaining() < Protocol.MSG_SIZE && !fill(device)) {
                    return Optional.empty();
                }
                List<ControlMessage> out = new ArrayList<>(buf.remaining() / Protocol.MSG_SIZE);
                while (buf.remaining() >= Protocol.MSG_SIZE) {
                    try {
                        ControlMessage m = MessageCodec.decode(buf);
                        traffic.read(m);
                        out.add(m);
                    } catch (MalformedMessageException e) {
                        traffic.error(KernelTraffic.Error.MALFORMED);
                        LOG.error("malformed message from the kernel, skipped: {}", e.getMessage());
                    }
                }
                if (!out.isEmpty()) {
                    return Optional.of(out);
                }
            }
        }
    }
}
