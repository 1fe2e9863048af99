/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * One read's kernel messages, split over the volumes they are for: the stream is told once every
 * one of those volumes took its share (backpressure is per read, not per message). Shared by
 * those volumes' actors, hence the atomic count.
 */
final class Acceptance {
    private final AtomicInteger volumes;
    private final ActorRef<Done> replyTo;

    Acceptance(int volumes, ActorRef<Done> replyTo) {
        this.volumes = new AtomicInteger(volumes);
        this.replyTo = replyTo;
    }

    /** One volume took its share. */
    void accept() {
        if (volumes.decrementAndGet() == 0) {
            replyTo.tell(Done.getInstance());
        }
    }
}
