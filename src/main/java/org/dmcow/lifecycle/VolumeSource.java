/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A disk image read from its start to its end, as {@code qemu-img compare} reads one: positions
 * never go back, and ranges known to read as zeros are said so without being read.
 */
public interface VolumeSource extends Closeable {
    /** The image's size in bytes. */
    long size() throws IOException;

    /** Fills {@code dst} from {@code position}; positions of successive calls do not decrease. */
    void read(long position, ByteBuffer dst) throws IOException;

    /** The end of the range from {@code position} known to read as zeros (a hole), or {@code position}. */
    long zerosEnd(long position) throws IOException;
}
