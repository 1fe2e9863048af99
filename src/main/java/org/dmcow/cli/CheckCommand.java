/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.io.PrintStream;
import java.util.Optional;
import java.util.Set;
import org.dmcow.format.BaseImage;
import org.dmcow.format.CheckReport;
import org.dmcow.format.CowFormat;
import org.dmcow.format.FileBaseImage;
import org.dmcow.format.FileCowStore;

/** {@code dmcowctl check C [--base B] [--json]}: exit 0 when clean, 1 with the findings by code. */
final class CheckCommand implements Dmcowctl.Command {
    @Override
    public String summary() {
        return "check C [--base B] [--json]: verify a CoW space offline";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Arguments a = Arguments.parse(args, Set.of("base"), Set.of("json"));
        String cow = a.operand("CoW space");
        Optional<String> baseName = a.value("base");
        try (FileCowStore store = FileCowStore.openReadOnly(SpaceFiles.existing(cow));
                FileBaseImage base = baseName.isPresent() ? SpaceFiles.base(baseName.get()) : null) {
            CowFormat format = SpaceFiles.detect(store);
            CheckReport report = format.check(store, Optional.<BaseImage>ofNullable(base));
            if (a.flag("json")) {
                out.println(json(report));
            } else {
                out.println(report.cow() + ": " + report.format() + ", "
                        + (report.clean() ? "clean" : report.findings().size() + " problem(s)"));
                for (CheckReport.Finding f : report.findings()) {
                    out.println("  " + f.code() + ": " + f.message());
                }
            }
            return report.clean() ? 0 : 1;
        }
    }

    private static String json(CheckReport report) {
        StringBuilder b = new StringBuilder("{\"cow\":").append(Json.quote(report.cow().toString()))
                .append(",\"format\":").append(Json.quote(report.format()))
                .append(",\"clean\":").append(report.clean()).append(",\"findings\":[");
        for (int i = 0; i < report.findings().size(); i++) {
            CheckReport.Finding f = report.findings().get(i);
            b.append(i == 0 ? "" : ",").append("{\"code\":").append(Json.quote(f.code())).append(",\"message\":")
                    .append(Json.quote(f.message())).append('}');
        }
        return b.append("]}").toString();
    }
}
