/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text format (0.0.4), for tests: it throws on anything the
 * format forbids or our conventions exclude. A family's TYPE comes before its samples, at most
 * once; its samples are together; label values use only the escapes \\ \" \n; no sample twice;
 * counters end in _total; a histogram's buckets per series rise in {@code le}, are cumulative,
 * end with {@code +Inf} equal to {@code _count}, and have a {@code _sum}.
 */
public final class PrometheusText {
    /** One sample line. */
    public record Sample(String name, Map<String, String> labels, double value) {
    }

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Pattern COMMENT = Pattern.compile("# (HELP|TYPE) (\\S+) ?(.*)");
    private static final Set<String> TYPES = Set.of("counter", "gauge", "histogram", "summary", "untyped");

    public final Map<String, String> types = new LinkedHashMap<>();
    public final List<Sample> samples = new ArrayList<>();

    private PrometheusText() {
    }

    public static PrometheusText parse(String text) {
        PrometheusText t = new PrometheusText();
        t.read(text);
        t.checkHistograms();
        return t;
    }

    /** The value of the sample {@code name} with exactly {@code labels} (name, value, ...). */
    public double value(String name, String... labels) {
        Map<String, String> want = new TreeMap<>();
        for (int i = 0; i < labels.length; i += 2) {
            want.put(labels[i], labels[i + 1]);
        }
        return samples.stream().filter(s -> s.name.equals(name) && new TreeMap<>(s.labels).equals(want))
                .findFirst().orElseThrow(() -> new AssertionError("no sample " + name + want)).value;
    }

    private void read(String text) {
        if (!text.isEmpty() && !text.endsWith("\n")) {
            throw new IllegalArgumentException("the text must end with a line feed");
        }
        Set<String> helped = new HashSet<>();
        Set<String> done = new HashSet<>();
        Set<String> seen = new HashSet<>();
        String current = null;
        boolean currentHasSamples = false;
        int n = 0;
        for (String line : text.split("\n", -1)) {
            n++;
            if (line.isEmpty()) {
                continue;
            }
            String where = "line " + n + " \"" + line + "\": ";
            if (line.startsWith("#")) {
                Matcher m = COMMENT.matcher(line);
                if (!m.matches()) {
                    continue; // a plain comment
                }
                String family = m.group(2);
                if (done.contains(family) || family.equals(current) && currentHasSamples) {
                    throw new IllegalArgumentException(where + m.group(1) + " after the family's samples");
                }
                if (m.group(1).equals("TYPE")) {
                    if (types.containsKey(family) || !TYPES.contains(m.group(3))) {
                        throw new IllegalArgumentException(where + "a second TYPE or an unknown type");
                    }
                    types.put(family, m.group(3));
                } else if (!helped.add(family)) {
                    throw new IllegalArgumentException(where + "a second HELP");
                } else if (m.group(3).matches(".*\\\\[^\\\\n].*|.*\\\\$")) {
                    throw new IllegalArgumentException(where + "HELP escapes only \\\\ and \\n");
                }
                if (current != null && !current.equals(family)) {
                    done.add(current);
                    currentHasSamples = false;
                }
                current = family;
                continue;
            }
            Sample s = sample(where, line);
            String family = family(s.name);
            if (!types.containsKey(family)) {
                throw new IllegalArgumentException(where + "a sample before its family's TYPE");
            }
            if (!family.equals(current)) {
                throw new IllegalArgumentException(where + "not with the rest of family " + family);
            }
            if (!seen.add(s.name + new TreeMap<>(s.labels))) {
                throw new IllegalArgumentException(where + "the same sample twice");
            }
            if (types.get(family).equals("counter") && !s.name.endsWith("_total")) {
                throw new IllegalArgumentException(where + "a counter whose name does not end in _total");
            }
            samples.add(s);
            currentHasSamples = true;
        }
    }

    /** The family a sample belongs to: a histogram's _bucket, _sum and _count are its own. */
    private String family(String name) {
        for (String suffix : List.of("_bucket", "_sum", "_count")) {
            String base = name.endsWith(suffix) ? name.substring(0, name.length() - suffix.length()) : null;
            if (base != null && "histogram".equals(types.get(base))) {
                return base;
            }
        }
        return name;
    }

    private static Sample sample(String where, String line) {
        int i = 0;
        while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
            i++;
        }
        String name = line.substring(0, i);
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(where + "bad metric name");
        }
        Map<String, String> labels = new LinkedHashMap<>();
        if (i < line.length() && line.charAt(i) == '{') {
            i++;
            while (line.charAt(i) != '}') {
                int eq = line.indexOf("=\"", i);
                String label = eq < 0 ? "" : line.substring(i, eq);
                if (!LABEL_NAME.matcher(label).matches()) {
                    throw new IllegalArgumentException(where + "bad label name");
                }
                StringBuilder value = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        char e = line.charAt(++j);
                        value.append(e == 'n' ? '\n' : e);
                        if (e != 'n' && e != '\\' && e != '"') {
                            throw new IllegalArgumentException(where + "bad escape \\" + e);
                        }
                    } else {
                        value.append(c);
                    }
                }
                if (labels.put(label, value.toString()) != null) {
                    throw new IllegalArgumentException(where + "label " + label + " twice");
                }
                i = j + 1;
                if (line.charAt(i) == ',') {
                    i++;
                } else if (line.charAt(i) != '}') {
                    throw new IllegalArgumentException(where + "expected , or } after a label");
                }
            }
            i++;
        }
        String[] rest = line.substring(i).split(" ", -1);
        if (rest.length < 2 || rest.length > 3 || !rest[0].isEmpty()) {
            throw new IllegalArgumentException(where + "expected one space, a value and an optional timestamp");
        }
        return new Sample(name, labels, number(where, rest[1]));
    }

    private static double number(String where, String s) {
        switch (s) {
            case "+Inf":
                return Double.POSITIVE_INFINITY;
            case "-Inf":
                return Double.NEGATIVE_INFINITY;
            case "NaN":
                return Double.NaN;
            default:
                try {
                    return Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(where + "bad value " + s);
                }
        }
    }

    private void checkHistograms() {
        types.forEach((family, type) -> {
            if (!type.equals("histogram")) {
                return;
            }
            Map<Map<String, String>, List<Sample>> buckets = new HashMap<>();
            for (Sample s : samples) {
                if (s.name.equals(family + "_bucket")) {
                    Map<String, String> series = new TreeMap<>(s.labels);
                    if (series.remove("le") == null) {
                        throw new IllegalArgumentException(s + ": a bucket without le");
                    }
                    buckets.computeIfAbsent(series, k -> new ArrayList<>()).add(s);
                }
            }
            buckets.forEach((series, list) -> {
                double le = Double.NEGATIVE_INFINITY;
                double count = 0;
                for (Sample b : list) {
                    double bound = number(b.toString(), b.labels.get("le"));
                    if (bound <= le || b.value < count) {
                        throw new IllegalArgumentException(b + ": buckets must rise in le and be cumulative");
                    }
                    le = bound;
                    count = b.value;
                }
                if (le != Double.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException(family + series + ": no +Inf bucket");
                }
                String[] labels = series.entrySet().stream().flatMap(e -> java.util.stream.Stream.of(e.getKey(),
                        e.getValue())).toArray(String[]::new);
                if (value(family + "_count", labels) != count) {
                    throw new IllegalArgumentException(family + series + ": +Inf bucket != _count");
                }
                value(family + "_sum", labels);
            });
        });
    }
}
