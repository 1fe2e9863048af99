/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.util;

/** Just enough JSON for the {@code --json} outputs of dmcowctl and the daemon's status. */
public final class Json {
    /** The version of every {@code --json} document's shape, its {@code schema} field; raised when a key changes. */
    public static final int SCHEMA = 1;

    private Json() {
    }

    /** A JSON object, keys in the order given; starts with the {@code schema} field when asked. */
    public static final class ObjectWriter {
        private final StringBuilder b = new StringBuilder("{");

        /** A document: {@code {"schema":1, ...}}. */
        public static ObjectWriter document() {
            return new ObjectWriter().put("schema", SCHEMA);
        }

        public static ObjectWriter object() {
            return new ObjectWriter();
        }

        private ObjectWriter key(String key) {
            b.append(b.length() == 1 ? "" : ",").append(quote(key)).append(':');
            return this;
        }

        public ObjectWriter put(String key, String value) {
            key(key).b.append(quote(value));
            return this;
        }

        public ObjectWriter put(String key, long value) {
            key(key).b.append(value);
            return this;
        }

        public ObjectWriter put(String key, boolean value) {
            key(key).b.append(value);
            return this;
        }

        /** {@code json} as it is: an object or array written by another writer. */
        public ObjectWriter putJson(String key, String json) {
            key(key).b.append(json);
            return this;
        }

        @Override
        public String toString() {
            return b + "}";
        }
    }

    /** {@code text} as a JSON string literal; null as {@code null}. */
    public static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
