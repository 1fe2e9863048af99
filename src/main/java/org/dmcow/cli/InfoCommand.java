/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintStream;
import java.util.Set;
import org.dmcow.config.Sizes;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.SpaceInfo;

/** {@code dmcowctl info C [--json]}: format, sizes, usage, and the segments a table would need. */
final class InfoCommand implements Dmcowctl.Command {
    @Override
    public String summary() {
        return "info C [--json]: describe a CoW space offline";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Arguments a = Arguments.parse(args, Set.of(), Set.of("json"));
        String cow = a.operand("CoW space");
        try (FileCowStore store = FileCowStore.openReadOnly(SpaceFiles.existing(cow))) {
            SpaceInfo i = SpaceFiles.detect(store).info(store);
            if (a.flag("json")) {
                out.println("{\"cow\":" + Json.quote(store.path().toString()) + ",\"format\":" + Json.quote(i.format())
                        + ",\"chunkSize\":" + i.chunkSize() + ",\"volumeSize\":" + i.volumeSize() + ",\"cowSize\":"
                        + i.cowSize() + ",\"usedChunks\":" + i.usedChunks() + ",\"freeChunks\":" + i.freeChunks()
                        + ",\"mappings\":" + i.mappings() + ",\"segments\":" + i.segments() + "}");
            } else {
                out.println("cow:         " + store.path());
                out.println("format:      " + i.format());
                out.println("chunk size:  " + Sizes.format(i.chunkSize()));
                out.println("volume size: " + i.volumeSize() + " bytes");
                out.println("cow size:    " + i.cowSize() + " bytes");
                out.println("used chunks: " + i.usedChunks());
                out.println("free chunks: " + i.freeChunks());
                out.println("mappings:    " + i.mappings());
                out.println("segments:    " + i.segments());
            }
            return 0;
        }
    }
}
