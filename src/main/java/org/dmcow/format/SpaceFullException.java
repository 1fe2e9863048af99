/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

/** No place is left in the CoW space for a new chunk. */
public class SpaceFullException extends FormatException {
    private static final long serialVersionUID = 1L;

    public SpaceFullException(String message) {
        super(message);
    }
}
