/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.CowStore;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;

/** Opening the files the commands name, with errors that say which file and why. */
final class SpaceFiles {
    private SpaceFiles() {
    }

    /** Work on one file; its I/O errors become {@link Failure}s naming that file. */
    interface FileWork<T> {
        T run() throws IOException, FormatException, Failure;
    }

    static <T> T on(Path path, FileWork<T> work) throws Failure, FormatException {
        try {
            return work.run();
        } catch (IOException e) {
            throw Failure.of(path, e);
        }
    }

    /** The installed format that recognises {@code store}. */
    static CowFormat detect(CowStore store) throws IOException, FormatException {
        List<String> known = new ArrayList<>();
        for (CowFormat f : CowFormats.all()) {
            if (f.recognises(store)) {
                return f;
            }
            known.add(f.name());
        }
        throw new FormatException(store.path() + ": not a CoW space of a known format (known: "
                + String.join(", ", known) + ")");
    }

    /**
     * Fails unless {@code path} is an existing file or device this process may read: a directory
     * opens for reading on Linux and only fails at the first read, without its name.
     */
    static void requireReadable(Path path) throws Failure, FormatException {
        if (Files.isDirectory(path)) {
            throw new Failure(path, "is a directory");
        }
        on(path, () -> {
            FileChannel.open(path).close();
            return null;
        });
    }

    static FileBaseImage base(Path path) throws Failure, FormatException {
        requireReadable(path);
        return on(path, () -> FileBaseImage.open(path));
    }

    static FileCowStore openReadOnly(Path path) throws Failure, FormatException {
        requireReadable(path);
        return on(path, () -> FileCowStore.openReadOnly(path));
    }
}
