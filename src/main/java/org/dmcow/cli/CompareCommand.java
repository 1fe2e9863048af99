/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import org.dmcow.format.CowFormat;
import org.dmcow.format.CowFormats;
import org.dmcow.format.FileCowStore;
import org.dmcow.format.FormatException;
import org.dmcow.format.qcow2.Qcow2Format;
import org.dmcow.host.ImageLock;
import org.dmcow.lifecycle.ImageVolume;
import org.dmcow.lifecycle.SpaceVolume;
import org.dmcow.lifecycle.VolumeComparison;
import org.dmcow.lifecycle.VolumeSource;
import org.dmcow.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dmcowctl compare SPACE --base BASE OTHER}: the exit status and messages of {@code qemu-img compare}. */
@Command(name = "compare", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Compares the volume of SPACE (its changes over BASE) with OTHER, as `qemu-img compare` does: "
                + "the first differing offset, and bytes beyond the shorter image must be zeros.",
            "OTHER is a raw image or device, a qcow2 image over its backing chain (raw or qcow2 backing files, "
                    + "or none), or a native CoW space over BASE. Offline only."},
        exitCodeListHeading = "%nExit status (as qemu-img compare):%n",
        exitCodeList = {"0:identical", "1:different", "2:an error: the message names the file and the reason (also a "
            + "bad command line)"})
final class CompareCommand implements Callable<Integer>, Dmcowctl.NamesFiles, Dmcowctl.FailureStatus {
    static final int DIFFERENT = 1;
    static final int ERROR = 2;

    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Parameters(index = "1", paramLabel = "OTHER", description = "the image to compare with")
    private Path other;

    @Mixin
    private SpaceBaseOption base;

    @Mixin
    private ProgressOption progress;

    @Mixin
    private JsonOption json;

    @Override
    public List<Path> files() {
        return Arrays.asList(space.given(), base.given(), other);
    }

    @Override
    public int failureStatus() {
        return ERROR;
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        try (VolumeSource a = spaceVolume(cow, base.given()); VolumeSource b = open(other)) {
            OptionalLong mismatch = SpaceFiles.on(cow, () -> VolumeComparison.firstMismatch(a, b,
                    progress.of(spec, json.on())));
            PrintWriter out = spec.commandLine().getOut();
            if (json.on()) {
                Json.ObjectWriter doc = Json.ObjectWriter.document().put("cow", cow.toString())
                        .put("other", other.toString()).put("identical", mismatch.isEmpty());
                out.println((mismatch.isPresent() ? doc.put("mismatch_offset", mismatch.getAsLong())
                        : doc.putJson("mismatch_offset", "null")).toString());
            } else if (a.size() != b.size() && mismatch.isEmpty()) {
                out.println("Warning: Image size mismatch!");
                out.println("Images are identical.");
            } else {
                out.println(mismatch.isEmpty() ? "Images are identical."
                        : "Content mismatch at offset " + mismatch.getAsLong() + "!");
            }
            return mismatch.isEmpty() ? Dmcowctl.OK : DIFFERENT;
        }
    }

    private static SpaceVolume spaceVolume(Path cow, Path base) throws Failure, FormatException {
        var s = OfflineSpaces.open(cow, base, ImageLock.Use.READ);
        try {
            return SpaceFiles.on(cow, () -> new SpaceVolume(s));
        } catch (Failure | FormatException | RuntimeException e) {
            SpaceFiles.on(cow, () -> {
                s.close();
                return null;
            });
            throw e;
        }
    }

    /**
     * OTHER as a CoW space over BASE when a format other than qcow2 recognises it, else as QEMU
     * reads it: a qcow2 image over its backing chain (or none), or raw bytes.
     */
    private VolumeSource open(Path image) throws Failure, FormatException {
        SpaceFiles.requireReadable(image);
        boolean space = SpaceFiles.on(image, () -> {
            try (FileCowStore store = FileCowStore.openReadOnly(image)) {
                for (CowFormat f : CowFormats.all()) {
                    if (!f.name().equals(Qcow2Format.NAME) && f.recognises(store)) {
                        return true;
                    }
                }
                return false;
            }
        });
        return space ? spaceVolume(image, base.given()) : SpaceFiles.on(image, () -> ImageVolume.open(image));
    }
}
