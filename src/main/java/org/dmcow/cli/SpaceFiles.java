/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.CowStore;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FormatException;

/** Opening the files the commands name, with errors that say which file and why. */
final class SpaceFiles {
    private SpaceFiles() {
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

    static FileBaseImage base(String path) throws IOException, FormatException {
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            throw new FormatException(p + ": base not found");
        }
        return FileBaseImage.open(p);
    }

    static Path existing(String path) throws FormatException {
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            throw new FormatException(p + ": CoW space not found");
        }
        return p;
    }
}
