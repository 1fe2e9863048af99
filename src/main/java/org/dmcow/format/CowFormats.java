/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** The installed formats, found with {@link ServiceLoader}. */
public final class CowFormats {
    private CowFormats() {
    }

    public static List<CowFormat> all() {
        List<CowFormat> formats = new ArrayList<>();
        ServiceLoader.load(CowFormat.class).forEach(formats::add);
        return formats;
    }

    /** The format called {@code name}; the error lists the known ones. */
    public static CowFormat byName(String name) throws FormatException {
        List<String> known = new ArrayList<>();
        for (CowFormat f : all()) {
            if (f.name().equals(name)) {
                return f;
            }
            known.add(f.name());
        }
        throw new FormatException("unknown CoW format \"" + name + "\" (known: " + String.join(", ", known) + ")");
    }
}
