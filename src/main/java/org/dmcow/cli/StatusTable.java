/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.cli;

import com.typesafe.config.Config;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code dmcowctl status} for people: one row per volume, columns as wide as their widest cell
 * (a 63-character name keeps them aligned), sizes as {@code 78.1M}, the last commit to the second
 * (UTC); a degraded volume's reason on the line below its row.
 */
final class StatusTable {
    private static final String[] HEADER = {"VOLUME", "STATE", "MAPPED", "COMMITTED", "PENDING", "COW-USED",
        "COW-FREE", "USE%", "RELOADS", "SEGS", "LAST-COMMIT"};

    private StatusTable() {
    }

    /** {@code volumes}: the daemon's {@code status-json} answer's {@code volumes}. */
    static String render(List<? extends Config> volumes) {
        if (volumes.isEmpty()) {
            return "no volumes configured\n";
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(HEADER);
        for (Config v : volumes) {
            long used = v.getLong("cow_used_bytes");
            long free = v.getLong("cow_free_bytes");
            rows.add(new String[] {v.getString("name"), v.getString("state"), v.getString("chunks_mapped"),
                v.getString("chunks_committed"), v.getString("faults_pending"), HumanSize.of(used),
                HumanSize.of(free), v.getBoolean("cow_grows") ? "-" : usePercent(used, free), v.getString("reloads"), v.getString("segments"),
                v.hasPath("last_commit") ? Instant.parse(v.getString("last_commit")).truncatedTo(ChronoUnit.SECONDS)
                        .toString() : "-"});
        }
        int[] width = new int[HEADER.length];
        for (String[] row : rows) {
            for (int c = 0; c < row.length; c++) {
                width[c] = Math.max(width[c], row[c].length());
            }
        }
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < rows.size(); r++) {
            String[] row = rows.get(r);
            for (int c = 0; c < row.length; c++) {
                boolean text = c < 2 || c == row.length - 1; // names left, numbers right
                String cell = text ? String.format("%-" + width[c] + "s", row[c])
                        : String.format("%" + width[c] + "s", row[c]);
                b.append(c == 0 ? "" : "  ").append(c == row.length - 1 ? cell.stripTrailing() : cell);
            }
            b.append('\n');
            Config v = r == 0 ? null : volumes.get(r - 1);
            if (v != null && v.hasPath("reason")) {
                b.append("  ").append(v.getString("name")).append(": ").append(v.getString("reason")).append('\n');
            }
        }
        return b.toString();
    }

    /** Used share of the space's room, rounded up as df does; "-" when it has none. */
    static String usePercent(long used, long free) {
        if (used + free == 0) {
            return "-";
        }
        return (used * 100 + used + free - 1) / (used + free) + "%";
    }
}
