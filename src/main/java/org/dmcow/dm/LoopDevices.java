/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import java.io.IOException;
import java.nio.file.Path;

/** Loop devices for file-backed bases and CoW spaces; {@link LoopIoctl} does it with the loop ioctls. */
public interface LoopDevices {
    /**
     * The loop device backed by {@code file}: an existing one (a restarted daemon finds the devices
     * its volumes still use) or a new one, read-only when asked.
     */
    Loop attach(Path file, boolean readOnly) throws IOException;

    /** A loop device and its "MAJOR:MINOR". */
    record Loop(Path device, String majorMinor) {
    }

    /** Tells the loop device its backing file grew. */
    void refreshCapacity(Path loop) throws IOException;

    /** Detaches the loop device (it goes away once closed). */
    void detach(Path loop) throws IOException;
}
