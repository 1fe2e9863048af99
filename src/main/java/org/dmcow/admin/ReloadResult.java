/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.admin;

import java.util.List;
import java.util.Map;
import org.dmcow.util.Json;

/**
 * What a reload (SIGHUP or {@code dmcowctl reload}) did: volumes started, volumes being removed,
 * volumes refused (by name: why), or {@code error}: the whole config was refused and nothing changed.
 */
public record ReloadResult(List<String> added, List<String> removed, Map<String, String> refused, String error) {
    public static ReloadResult failed(String error) {
        return new ReloadResult(List.of(), List.of(), Map.of(), error);
    }

    public String json() {
        Json.ObjectWriter why = Json.ObjectWriter.object();
        refused.forEach(why::put);
        return Json.ObjectWriter.document().putJson("added", names(added)).putJson("removed", names(removed))
                .putJson("refused", why.toString()).put("error", error) + "\n";
    }

    private static String names(List<String> names) {
        StringBuilder b = new StringBuilder("[");
        for (String n : names) {
            b.append(b.length() > 1 ? "," : "").append(Json.quote(n));
        }
        return b.append(']').toString();
    }
}
