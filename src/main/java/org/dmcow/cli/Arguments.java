/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.dmcow.config.Sizes;

/** A subcommand's arguments: {@code --name value} (or {@code --name=value}), {@code --flag}, and operands. */
final class Arguments {
    private final Map<String, String> values = new HashMap<>();
    private final List<String> operands = new ArrayList<>();

    private Arguments() {
    }

    /** Parses {@code args}; {@code valued} options take a value, {@code flags} do not. */
    static Arguments parse(String[] args, Set<String> valued, Set<String> flags) throws Dmcowctl.UsageException {
        Arguments a = new Arguments();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) {
                a.operands.add(arg);
                continue;
            }
            int eq = arg.indexOf('=');
            String name = eq < 0 ? arg.substring(2) : arg.substring(2, eq);
            if (flags.contains(name) && eq < 0) {
                a.values.put(name, "true");
            } else if (valued.contains(name)) {
                if (eq >= 0) {
                    a.values.put(name, arg.substring(eq + 1));
                } else if (i + 1 < args.length) {
                    a.values.put(name, args[++i]);
                } else {
                    throw new Dmcowctl.UsageException("--" + name + " needs a value");
                }
            } else {
                throw new Dmcowctl.UsageException("unknown option " + arg);
            }
        }
        return a;
    }

    Optional<String> value(String name) {
        return Optional.ofNullable(values.get(name));
    }

    String required(String name) throws Dmcowctl.UsageException {
        String v = values.get(name);
        if (v == null) {
            throw new Dmcowctl.UsageException("--" + name + " is required");
        }
        return v;
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    /** A size option ({@code 64k}, {@code 10G}). */
    Optional<Long> size(String name) throws Dmcowctl.UsageException {
        String v = values.get(name);
        if (v == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(Sizes.parse(v));
        } catch (IllegalArgumentException e) {
            throw new Dmcowctl.UsageException("--" + name + ": " + e.getMessage());
        }
    }

    /** The single operand, e.g. the CoW file. */
    String operand(String what) throws Dmcowctl.UsageException {
        if (operands.size() != 1) {
            throw new Dmcowctl.UsageException("expected one " + what + ", got " + operands.size() + " operands");
        }
        return operands.get(0);
    }

    void noOperands() throws Dmcowctl.UsageException {
        if (!operands.isEmpty()) {
            throw new Dmcowctl.UsageException("unexpected operand " + operands.get(0));
        }
    }
}
