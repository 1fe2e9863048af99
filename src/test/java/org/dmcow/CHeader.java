/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        for (String line : run(tmp, src.toString(), includeDir).lines().toList()) {
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

    /**
     * Every name starting with {@code prefix} that the includes define: the macros ({@code gcc -dM
     * -E}) and the enumerators (the preprocessor leaves them as names).
     */
    public static Set<String> names(Path tmp, String includes, Path includeDir, String prefix)
            throws IOException, InterruptedException {
        Path c = Files.writeString(tmp.resolve("names.c"), includes);
        Set<String> out = new TreeSet<>();
        for (String line : gcc(includeDir, c, "-dM", "-E").split("\n")) {
            String[] words = line.split("[\\s(]", 3);
            if (words.length > 1 && words[0].equals("#define") && words[1].startsWith(prefix)) {
                out.add(words[1]);
            }
        }
        Matcher m = Pattern.compile("\\b" + Pattern.quote(prefix) + "\\w*").matcher(gcc(includeDir, c, "-E", "-P"));
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /** Runs gcc on {@code c} with {@code args}; its standard output. */
    private static String gcc(Path includeDir, Path c, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("gcc", "-Wall", "-Werror", "-I", includeDir.toString()));
        cmd.addAll(List.of(args));
        cmd.add(c.toString());
        Path err = Files.createTempFile(c.getParent(), "gcc", ".err");
        Process cc = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS) && cc.exitValue() == 0,
                String.join(" ", cmd) + " failed:\n" + Files.readString(err) + Files.readString(c));
        return out;
    }

    private static String run(Path tmp, String src, Path includeDir) throws IOException, InterruptedException {
        Path c = Files.writeString(tmp.resolve("probe.c"), src);
        Path exe = tmp.resolve("probe");
        gcc(includeDir, c, "-o", exe.toString());
        Process p = new ProcessBuilder(exe.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0);
        return out;
    }
}
