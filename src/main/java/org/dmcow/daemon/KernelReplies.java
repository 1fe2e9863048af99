/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.dmcow.protocol.ControlMessage;

/** Where volumes put their messages to the kernel (MAP, FAIL, COMMITTED, FORGET). */
@FunctionalInterface
public interface KernelReplies {
    void send(ControlMessage message);
}
