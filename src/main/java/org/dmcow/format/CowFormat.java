/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.format;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A CoW space format: how a volume's modified chunks are placed in its CoW space and how those
 * mappings are made durable and read back. Formats are found with {@link java.util.ServiceLoader}
 * (see {@link CowFormats}) under their {@link #name()}.
 */
public interface CowFormat {
    /** The name used in the config ({@code format = native}) and on the command line. */
    String name();

    /**
     * Writes an empty CoW space for {@code base} into {@code request.cow()}. Refuses, before writing
     * anything, a space too small for its metadata, an unsupported chunk size, or an existing space
     * unless {@code request.force()}.
     */
    void create(CreateRequest request) throws IOException, FormatException;

    /**
     * Opens a CoW space for serving. Refuses, with a message naming the file and the cause and
     * without writing anything: a wrong base, corrupt metadata, unknown versions or features.
     */
    CowSpace open(CowStore store, BaseImage base) throws IOException, FormatException;

    /**
     * Reads a CoW space for offline tools (map, export, flatten): the mappings as {@link #open}
     * reads them, refusing what open refuses (a wrong base, corrupt metadata), but never writing:
     * open may grow the space or repair its header. Only the read methods of the view are used; the
     * caller owns {@code store}.
     */
    CowSpace view(CowStore store, BaseImage base) throws IOException, FormatException;

    /** Checks a CoW space offline, optionally against its base; never writes. */
    CheckReport check(CowStore store, Optional<BaseImage> base) throws IOException;

    /** Describes a CoW space offline; never writes. */
    SpaceInfo info(CowStore store) throws IOException, FormatException;

    /**
     * The chunk size of the space in {@code store}; never writes. The default reads the whole space
     * ({@link #info}); a format overrides it to read only its header, since the daemon asks it of
     * every volume at start-up before the volume's own opening reads the space again.
     */
    default long chunkSize(CowStore store) throws IOException, FormatException {
        return info(store).chunkSize();
    }

    /**
     * Whether {@code store} holds a space of this format (for tools that detect the format). The
     * default asks {@link #info}; a format overrides it to also recognise a damaged space of its own.
     */
    default boolean recognises(CowStore store) throws IOException {
        try {
            info(store);
            return true;
        } catch (FormatException e) {
            return false;
        }
    }

    /** What {@code dmcowctl format} asks for. */
    record CreateRequest(Path cow, BaseImage base, long chunkSize, java.util.OptionalLong size, boolean force) {
    }
}
