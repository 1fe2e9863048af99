/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.Set;
import org.dmcow.config.Sizes;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.SpaceInfo;

/** {@code dmcowctl format --base B --cow C [--chunk-size 64k] [--size S] [--format native] [--force]}. */
final class FormatCommand implements Dmcowctl.Command {
    @Override
    public String summary() {
        return "format --base B --cow C [--chunk-size 64k] [--size S] [--format native] [--force]";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Arguments a = Arguments.parse(args, Set.of("base", "cow", "chunk-size", "size", "format"), Set.of("force"));
        a.noOperands();
        Path cow = Path.of(a.required("cow"));
        String baseName = a.required("base");
        long chunk = a.size("chunk-size").orElse(64L * 1024);
        OptionalLong size = a.size("size").map(OptionalLong::of).orElse(OptionalLong.empty());
        CowFormat format = CowFormats.byName(a.value("format").orElse("native"));
        try (FileBaseImage base = SpaceFiles.base(baseName)) {
            format.create(new CowFormat.CreateRequest(cow, base, chunk, size, a.flag("force")));
        }
        try (FileCowStore store = FileCowStore.openReadOnly(cow)) {
            SpaceInfo info = format.info(store);
            out.println("formatted " + cow + " as " + format.name() + ": chunk size " + Sizes.format(chunk)
                    + ", " + info.freeChunks() + " free chunks in " + info.cowSize() + " bytes");
        }
        return 0;
    }
}
