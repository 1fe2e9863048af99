/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import org.dmcow.config.Sizes;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.SpaceInfo;
import org.dmcow.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** {@code dmcowctl format --base B [--chunk-size 64k] [--size S] [--format native] [--force] [--json] SPACE}. */
@Command(name = "format", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Creates a CoW space over BASE. A file or device holding anything but zeros is only "
                + "overwritten with --force; the base (however named), a space dmcowd serves, an image QEMU has "
                + "open and a device in use never are.",
            "native: SPACE is sized for every chunk of BASE plus the metadata unless --size says otherwise; "
                    + "qcow2: the file grows as chunks are placed (--size does not apply)."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:formatted", "1:not formatted: the message names the file and the reason",
            "2:bad command line"})
final class FormatCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Option(names = "--base", required = true, paramLabel = "BASE", description = "the read-only base (file or block device)")
    private Path base;

    @Option(names = "--chunk-size", paramLabel = "SIZE", defaultValue = "64k", converter = SizeConverter.class,
            description = "chunk (qcow2: cluster) size (default: ${DEFAULT-VALUE})")
    private long chunkSize;

    @Option(names = "--size", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "native: the file's size (default: room for every chunk of BASE)")
    private Long size;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "native", converter = FormatConverter.class,
            description = "native or qcow2 (default: ${DEFAULT-VALUE})")
    private CowFormat format;

    @Option(names = "--force", description = "overwrite a file or device that holds data (never the base or a "
            + "space in use)")
    private boolean force;

    @Mixin
    private JsonOption json;

    @Override
    public List<Path> files() {
        return Arrays.asList(space.given(), base);
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        OptionalLong bytes = size == null ? OptionalLong.empty() : OptionalLong.of(size);
        try (FileBaseImage b = SpaceFiles.base(base)) {
            CowFormat.CreateRequest request = new CowFormat.CreateRequest(cow, b, chunkSize, bytes, force);
            // the format refuses what it must not overwrite (FormatTarget); it writes nothing then
            SpaceFiles.on(cow, () -> {
                format.create(request);
                return null;
            });
        }
        SpaceInfo info = SpaceFiles.on(cow, () -> {
            try (FileCowStore store = FileCowStore.openReadOnly(cow)) {
                return format.info(store);
            }
        });
        if (json.on()) {
            spec.commandLine().getOut().println(Json.ObjectWriter.document().put("cow", cow.toString())
                    .put("base", base.toString()).put("format", format.name()).put("chunk_size", chunkSize)
                    .put("cow_size", info.cowSize()).put("free_chunks", info.freeChunks()).toString());
        } else {
            spec.commandLine().getOut().println("formatted " + cow + " as " + format.name() + ": chunk size "
                    + Sizes.format(chunkSize) + ", " + info.freeChunks() + " free chunks in " + info.cowSize() + " bytes");
        }
        return Dmcowctl.OK;
    }

    /** An unknown format is a bad command line; the message lists the installed ones. */
    static final class FormatConverter implements ITypeConverter<CowFormat> {
        @Override
        public CowFormat convert(String name) {
            try {
                return CowFormats.byName(name);
            } catch (FormatException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
