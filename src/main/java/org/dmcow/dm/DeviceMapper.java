/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.dm;

import java.io.IOException;
import java.util.List;

/** The device-mapper operations the daemon needs; {@link DmIoctl} does them on /dev/mapper/control. */
public interface DeviceMapper {
    /** One table line: {@code start length type params}, in 512-byte sectors. */
    record Target(long start, long length, String type, String params) {
        @Override
        public String toString() {
            return start + " " + length + " " + type + " " + params;
        }
    }

    /** A device's state; {@code exists} false and the rest zero when there is no such device. */
    record DeviceStatus(boolean exists, int openCount, int major, int minor, int targets, boolean suspended) {
        public static final DeviceStatus ABSENT = new DeviceStatus(false, 0, 0, 0, 0, false);
    }

    DeviceStatus status(String name) throws IOException;

    /** Creates a device with no table, and its /dev/mapper node when udev does not; {@code uuid} may be empty. */
    DeviceStatus create(String name, String uuid) throws IOException;

    /** Loads {@code table} as the device's inactive table. */
    void load(String name, List<Target> table) throws IOException;

    /**
     * Suspends without flushing and without freezing a filesystem on the device (as dm-thin's
     * users do): the cow targets hand writes that wait for dmcowd's answers back to dm core, which
     * maps them again after the resume, so the suspend never waits for the daemon.
     */
    void suspendNoflush(String name) throws IOException;

    /** Resumes the device, swapping in the inactive table when there is one. */
    void resume(String name) throws IOException;

    /** Removes the device and its /dev/mapper node. */
    void remove(String name) throws IOException;

    /** Who holds the device open, for messages: the holders in sysfs, or the open count alone. */
    String holders(String name, DeviceStatus status);

    /** The live table. */
    List<Target> table(String name) throws IOException;
}
