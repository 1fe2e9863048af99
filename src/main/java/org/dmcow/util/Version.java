/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.util;

/** The build's version, from the jar manifest (or "dev" when run from classes). */
public final class Version {
    private Version() {
    }

    public static String get() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }
}
