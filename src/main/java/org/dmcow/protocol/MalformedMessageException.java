/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.protocol;

/** A control message that does not follow kmod/dm-cow.h; the message says which rule it breaks. */
public class MalformedMessageException extends Exception {
    private static final long serialVersionUID = 1L;

    public MalformedMessageException(String message) {
        super(message);
    }
}
