/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import org.dmcow.util.Json;

/**
 * A volume's answer to a grow request: its CoW store's size before and after, and the chunks free
 * now; {@code error}: why it did not grow, or null.
 */
public record GrowResult(String volume, String error, long bytesBefore, long bytes, long freeChunks) {
    public static GrowResult refused(String volume, String error) {
        return new GrowResult(volume, error, 0, 0, 0);
    }

    /** The admin socket's answer: one JSON document. */
    public String json() {
        return Json.ObjectWriter.document().put("volume", volume).put("error", error).put("bytes_before", bytesBefore)
                .put("bytes", bytes).put("free_chunks", freeChunks) + "\n";
    }
}
