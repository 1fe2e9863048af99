/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.dmcow.protocol.ControlMessage;

/** Where volumes put their messages to the kernel (MAP, FAIL, COMMITTED, FORGET). */
@FunctionalInterface
public interface KernelReplies {
    /** Queues a message; false when the queue is full. */
    boolean offer(ControlMessage message);

    /**
     * Queues a message the kernel must get. A full queue throws: the volume crashes and,
     * restarted, sends it again.
     */
    default void send(ControlMessage message) {
        if (!offer(message)) {
            throw new IllegalStateException("reply queue full, refused " + message);
        }
    }
}
