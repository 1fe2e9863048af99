/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dmcow.protocol.ControlMessage;
import org.dmcow.protocol.Protocol;

/**
 * One volume's grants in the {@link KernelDouble}, checked as dm-cow-grant.c checks them, and more
 * strictly where the daemon could hand a place out twice: a GRANT of a place a chunk holds, or of
 * a slot another live grant holds, is refused, and so is (in the double) a MAP to a free slot.
 */
final class KernelDoubleGrants {
    /** A live grant; {@code used}: slots taken by a first write, or by a chunk in flight at GRANT. */
    record Live(long id, long first, int count, long cowSector, int fill, BitSet used) {
        long slotSector(long chunk, int chunkSectors) {
            return cowSector + (chunk - first) * chunkSectors;
        }
    }

    final Map<Long, Live> live = new LinkedHashMap<>();
    /** The grant whose slot a chunk took, for its FILLED (also in a replay). */
    final Map<Long, Long> grantOf = new HashMap<>();
    /** GRANTs taken and first writes that took a slot. */
    int granted;
    int slotsTaken;

    /** A GRANT: why the module (or the double) refuses it, or null once it is live. */
    String grant(KernelDouble.Vol v, ControlMessage.Grant g) {
        if (g.id() < 1 || g.id() > 0xffffffffL || g.count() < 1 || g.count() > Protocol.MAX_GRANT_CHUNKS
                || (g.fill() != Protocol.FILL_COPY && g.fill() != Protocol.FILL_ZERO) || !g.used().isEmpty()
                || g.cowSector() % v.chunkSectors != 0) {
            return "bad GRANT fields " + g;
        }
        if (live.containsKey(g.id())) {
            return "GRANT of a live grant's id " + g;
        }
        BitSet used = new BitSet();
        for (int i = 0; i < g.count(); i++) {
            long chunk = g.firstChunk() + i;
            long sector = g.cowSector() + (long) i * v.chunkSectors;
            if (chunk >= (v.sectors + v.chunkSectors - 1) / v.chunkSectors || v.committed.contains(chunk)
                    || v.discarded.contains(chunk) || grantFor(chunk) != null) {
                return "GRANT of chunk " + chunk + ", committed, discarded, outside or granted already: " + g;
            }
            Long holder = v.chunkAt.get(sector);
            if (holder != null && holder != chunk || freeSlotAt(sector, v.chunkSectors) != null) {
                return "GRANT hands out sector " + sector + " twice (held by chunk " + holder + "): " + g;
            }
            if (v.chunkFault.containsKey(chunk) || v.place.containsKey(chunk)) {
                used.set(i); // in flight: its MAP comes
            }
        }
        live.put(g.id(), new Live(g.id(), g.firstChunk(), g.count(), g.cowSector(), g.fill(), used));
        granted++;
        return null;
    }

    /** The live grant covering {@code chunk}, or null. */
    Live grantFor(long chunk) {
        for (Live g : live.values()) {
            if (chunk >= g.first() && chunk < g.first() + g.count()) {
                return g;
            }
        }
        return null;
    }

    /** The live grant with a free slot at {@code sector}: a MAP there would hand it out twice. */
    Live freeSlotAt(long sector, int chunkSectors) {
        for (Live g : live.values()) {
            long i = (sector - g.cowSector()) / chunkSectors;
            if (sector >= g.cowSector() && i < g.count() && !g.used().get((int) i)) {
                return g;
            }
        }
        return null;
    }

    /** A first write to {@code chunk}, which has no place: its granted slot's sector, taken, or -1. */
    long take(long chunk, int chunkSectors) {
        Live g = grantFor(chunk);
        if (g == null || g.used().get((int) (chunk - g.first()))) {
            return -1;
        }
        g.used().set((int) (chunk - g.first()));
        grantOf.put(chunk, g.id());
        slotsTaken++;
        return g.slotSector(chunk, chunkSectors);
    }

    /** A MAP of {@code chunk} to its own free slot (its write beat the GRANT here): the slot is used. */
    void mapped(long chunk) {
        Live g = grantFor(chunk);
        if (g != null) {
            g.used().set((int) (chunk - g.first()));
        }
    }

    /** REVOKE: the REVOKED answer (count 0 for an id not live). */
    ControlMessage.Grant revoke(int volume, long id) {
        Live g = live.remove(id);
        return g == null
                ? new ControlMessage.Grant(ControlMessage.Grant.Kind.REVOKED, volume, id, 0, 0, 0, 0, new BitSet())
                : message(ControlMessage.Grant.Kind.REVOKED, volume, g);
    }

    /** GRANT_LIVE for every live grant, for a replay. */
    List<ControlMessage> replay(int volume) {
        List<ControlMessage> out = new ArrayList<>();
        live.values().forEach(g -> out.add(message(ControlMessage.Grant.Kind.GRANT_LIVE, volume, g)));
        return out;
    }

    private static ControlMessage.Grant message(ControlMessage.Grant.Kind kind, int volume, Live g) {
        return new ControlMessage.Grant(kind, volume, g.id(), g.first(), g.cowSector(), g.count(), g.fill(),
                (BitSet) g.used().clone());
    }
}
