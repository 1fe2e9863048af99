/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import org.dmcow.format.BaseImage;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CowFormat;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;
import org.dmcow.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code dmcowctl check [--base B] [--json] SPACE}: the exit status of {@code qemu-img check}. */
@Command(name = "check", mixinStandardHelpOptions = true, versionProvider = Dmcowctl.VersionProvider.class,
        description = {"Verifies a CoW space offline and lists the findings by code; never writes.",
            "native: both superblock copies, checkpoints, every mapping; qcow2: header, tables and refcounts "
                    + "(with persistent bitmaps, as qemu-img check counts them)."},
        exitCodeListHeading = "%nExit status (as qemu-img check):%n",
        exitCodeList = {"0:clean",
            "1:the check could not run or complete (unreadable file, unknown format, a feature this build "
                    + "cannot check, bad command line)",
            "2:corruption (or the space does not belong to --base)",
            "3:only leaked clusters: harmless, `qemu-img check -r leaks` frees them"})
final class CheckCommand implements Callable<Integer>, Dmcowctl.NamesFiles {
    static final int CORRUPT = 2;
    static final int LEAKS = 3;
    /** Findings that mean the check did not cover the space: the format has features this build cannot read. */
    private static final Set<String> NOT_CHECKED = Set.of("unsupported", "unknown-version", "unknown-feature",
            "compressed-cluster");
    private static final Set<String> LEAK = Set.of("leaked-clusters");

    /** What a check found, worst first; the exit status and the JSON {@code result}. */
    enum Result {
        NOT_COMPLETED(Dmcowctl.FAILED), CORRUPT(CheckCommand.CORRUPT), LEAKS(CheckCommand.LEAKS), CLEAN(Dmcowctl.OK);

        final int exitStatus;

        Result(int exitStatus) {
            this.exitStatus = exitStatus;
        }

        static Result of(CheckReport report) {
            List<String> codes = report.findings().stream().map(CheckReport.Finding::code).toList();
            return codes.stream().anyMatch(NOT_CHECKED::contains) ? NOT_COMPLETED
                    : codes.stream().anyMatch(c -> !LEAK.contains(c)) ? CORRUPT
                    : codes.isEmpty() ? CLEAN : LEAKS;
        }
    }

    @Spec
    private CommandSpec spec;

    @Mixin
    private SpaceArgument space;

    @Option(names = "--base", paramLabel = "BASE", description = "also check that SPACE belongs to this base")
    private Path base;

    @Option(names = "--json", description = "the report as one JSON document")
    private boolean json;

    @Override
    public List<Path> files() {
        return Arrays.asList(space.given(), base);
    }

    @Override
    public Integer call() throws Exception {
        Path cow = space.path(spec);
        try (FileCowStore store = SpaceFiles.openReadOnly(cow);
                FileBaseImage b = base == null ? null : SpaceFiles.base(base)) {
            CheckReport report = SpaceFiles.on(cow, () -> {
                CowFormat format = SpaceFiles.detect(store);
                return format.check(store, Optional.<BaseImage>ofNullable(b));
            });
            Result result = Result.of(report);
            print(report, result, spec.commandLine().getOut());
            return result.exitStatus;
        }
    }

    private void print(CheckReport report, Result result, PrintWriter out) {
        if (json) {
            StringBuilder findings = new StringBuilder("[");
            for (CheckReport.Finding f : report.findings()) {
                findings.append(findings.length() == 1 ? "" : ",").append(Json.ObjectWriter.object()
                        .put("code", f.code()).put("kind", kind(f.code())).put("message", f.message()));
            }
            out.println(Json.ObjectWriter.document().put("cow", report.cow().toString())
                    .put("base", base == null ? null : base.toString()).put("format", report.format())
                    .put("result", result.name().toLowerCase(java.util.Locale.ROOT)).put("clean", report.clean())
                    .putJson("findings", findings.append(']').toString()).toString());
            return;
        }
        out.println(report.cow() + ": " + report.format() + ", " + switch (result) {
            case CLEAN -> "clean";
            case LEAKS -> "only leaked clusters";
            case CORRUPT -> report.findings().size() + " problem(s)";
            case NOT_COMPLETED -> "the check could not complete";
        });
        for (CheckReport.Finding f : report.findings()) {
            out.println("  " + f.code() + ": " + f.message());
        }
    }

    private static String kind(String code) {
        return NOT_CHECKED.contains(code) ? "not_checked" : LEAK.contains(code) ? "leak" : "corruption";
    }
}
