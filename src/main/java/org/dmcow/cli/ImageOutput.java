/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import org.dmcow.format.FormatException;
import org.dmcow.lifecycle.ImageSink;
import org.dmcow.lifecycle.OfflineSpace;
import org.dmcow.lifecycle.OutputFile;
import org.dmcow.lifecycle.Progress;
import org.dmcow.lifecycle.Transfer;
import org.dmcow.util.Json;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * {@code -o OUT [--force]} of export, convert and flatten, and writing OUT: whole or not at all
 * (see {@link OutputFile}), then one line or JSON document with what was copied and how fast.
 */
final class ImageOutput {
    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "the image to write")
    Path output;

    @Option(names = "--force", description = "replace OUT if it exists (never the base, the space or an image in use)")
    boolean force;

    /** Makes the sink that writes the new file. */
    @FunctionalInterface
    interface SinkFactory {
        ImageSink create(Path file) throws java.io.IOException, FormatException;
    }

    /** Writes {@code scope} of {@code space} to OUT through the sink {@code factory} makes. */
    Transfer.Result write(OfflineSpace space, Transfer.Scope scope, SinkFactory factory, Progress progress)
            throws Failure, FormatException {
        return SpaceFiles.on(output, () -> {
            try (OutputFile out = OutputFile.claim(output, force, space.base().path(), space.path())) {
                Transfer.Result result;
                try (ImageSink sink = factory.create(out.temp())) {
                    result = Transfer.run(space, scope, sink, progress);
                }
                out.commit();
                return result;
            }
        });
    }

    /** What was written: a line ({@code done} says what), or with {@code json} one document. */
    void report(CommandSpec spec, boolean json, String done, OfflineSpace space, String format, Transfer.Result r) {
        PrintWriter out = spec.commandLine().getOut();
        long millis = r.nanos() / 1_000_000;
        if (json) {
            out.println(Json.ObjectWriter.document().put("cow", space.path().toString())
                    .put("cow_format", space.format().name()).put("base", space.base().path().toString())
                    .put("output", output.toString()).put("format", format).put("volume_size", r.volumeBytes())
                    .put("copied_bytes", r.copiedBytes()).put("output_bytes", r.outputBytes())
                    .put("milliseconds", millis).put("bytes_per_second", (long) r.throughput()).toString());
        } else {
            out.println(done + " " + space.path() + " (" + space.format().name() + ") to " + output + " (" + format
                    + "): " + HumanSize.of(r.copiedBytes()) + " copied in " + String.format(Locale.ROOT, "%.2f", millis
                    / 1000.0) + " s, " + HumanSize.of((long) r.throughput()) + "/s; " + output + " is "
                    + HumanSize.of(r.outputBytes()) + (format.equals("raw") ? " (holes included)" : ""));
        }
    }
}
