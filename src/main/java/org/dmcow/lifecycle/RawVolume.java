/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.dmcow.format.FileBaseImage;
import org.dmcow.host.FileHoles;

/** A raw image file or block device, read-only; its holes are known zeros. */
public final class RawVolume implements VolumeSource {
    private final FileBaseImage image;
    private final FileHoles holes;

    private RawVolume(FileBaseImage image, FileHoles holes) {
        this.image = image;
        this.holes = holes;
    }

    /** Opened as a base is (a block device's size from the device), with its holes. */
    public static RawVolume open(Path path) throws IOException {
        FileBaseImage image = FileBaseImage.open(path);
        try {
            return new RawVolume(image, FileHoles.open(path, image.size()));
        } catch (IOException e) {
            image.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return image.size();
    }

    @Override
    public void read(long position, ByteBuffer dst) throws IOException {
        image.read(dst, position);
    }

    @Override
    public long zerosEnd(long position) throws IOException {
        return holes.nextData(position);
    }

    @Override
    public void close() throws IOException {
        try {
            holes.close();
        } finally {
            image.close();
        }
    }
}
