/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Compiles tiny C programs that print the values of expressions; shared by the header drift tests. */
public final class CHeader {
    private CHeader() {
    }

    public static Map<String, Long> values(Path tmp, String includes, Path includeDir, Iterable<String> exprs)
            throws IOException, InterruptedException {
        StringBuilder src = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n").append(includes)
                .append("int main(void) {\n");
        for (String e : exprs) {
            src.append("  printf(\"%s=%llu\\n\", \"").append(e.replace("\"", "\\\""))
                    .append("\", (unsigned long long)(").append(e).append("));\n");
        }
        src.append("  return 0;\n}\n");
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : run(tmp, src.toString(), includeDir).split("\n")) {
            int eq = line.lastIndexOf('=');
            out.put(line.substring(0, eq), Long.parseUnsignedLong(line.substring(eq + 1)));
        }
        return out;
    }

    public static String stringValue(Path tmp, String includes, Path includeDir, String expr)
            throws IOException, InterruptedException {
        String src = "#include <stdio.h>\n" + includes + "#define Q(x) #x\n#define S(x) Q(x)\n"
                + "int main(void) { puts(S(" + expr + ")); return 0; }\n";
        return run(tmp, src, includeDir).trim();
    }

    private static String run(Path tmp, String src, Path includeDir) throws IOException, InterruptedException {
        Path c = Files.writeString(tmp.resolve("probe.c"), src);
        Path exe = tmp.resolve("probe");
        Process cc = new ProcessBuilder("gcc", "-Wall", "-Werror", "-I", includeDir.toString(), "-o",
                exe.toString(), c.toString()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS) && cc.exitValue() == 0, "gcc failed:\n" + ccOut + src);
        Process p = new ProcessBuilder(exe.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0);
        return out;
    }
}
