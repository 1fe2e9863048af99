/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

/** A volume's answer to {@link Volume.Shutdown}; {@code refused}: why the device was not removed (it is open), or null. */
public record ShutdownResult(String volume, String refused) {
}
