/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.config;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.dmcow.host.StorageIdentity;

/**
 * Volumes that would destroy each other's data, found from the files themselves (however they are
 * named): two volumes on one CoW space, a CoW space that is a base, a base or CoW space that is one
 * of the daemon's own devices. The error names the other volume; a running volume with an error
 * keeps running as it was (VolumeSet), a new one is refused.
 */
final class VolumeConflicts {
    private record Places(StorageIdentity base, StorageIdentity cow) {
    }

    private VolumeConflicts() {
    }

    /**
     * Errors by volume name, each prefixed with {@code origin}. A CoW space that is a base refuses
     * the volume that would write it, not those that read it; two volumes on one CoW space refuse
     * both (which guest owns it is not for the daemon to guess).
     */
    static Map<String, String> find(String origin, Collection<VolumeConfig> volumes) {
        Map<String, String> errors = new TreeMap<>();
        Map<String, Places> ids = new HashMap<>();
        for (VolumeConfig v : volumes) {
            ids.put(v.name(), new Places(identity(v.base()), identity(v.cow())));
        }
        for (VolumeConfig a : volumes) {
            Places pa = ids.get(a.name());
            Optional<String> error = ownDevice(a, "base", a.base(), volumes)
                    .or(() -> ownDevice(a, "cow", a.cow(), volumes));
            for (VolumeConfig b : volumes) {
                Places pb = ids.get(b.name());
                error = error.or(() -> pa.cow().overlap(pb.base()).map(how -> "volume " + a.name() + ": cow "
                        + a.cow() + " is " + (a == b ? "its own base " : "the base of volume " + b.name() + ", ")
                        + b.base() + " (" + how + "); a base is never written"));
                if (a != b) {
                    error = error.or(() -> pa.cow().overlap(pb.cow()).map(how -> "volume " + a.name() + ": cow "
                            + a.cow() + " is also the CoW space of volume " + b.name() + ", " + b.cow() + " (" + how
                            + "); two volumes never share a CoW space"));
                }
            }
            error.ifPresent(e -> errors.put(a.name(), origin + ": " + e));
        }
        return errors;
    }

    /** The identity of a configured path; an unreadable one has only its name (opening it says why). */
    private static StorageIdentity identity(Path p) {
        try {
            return StorageIdentity.of(p);
        } catch (IOException | RuntimeException e) {
            return StorageIdentity.named(p);
        }
    }

    /** A base or CoW space that is one of the daemon's own devices: its I/O would wait for itself. */
    private static Optional<String> ownDevice(VolumeConfig v, String key, Path path, Collection<VolumeConfig> all) {
        Optional<String> device = StorageIdentity.dmcowVolume(path);
        for (VolumeConfig other : all) {
            Path node = Path.of("/dev/mapper", other.name());
            if (path.normalize().equals(node) || device.isPresent() && device.get().equals(other.name())) {
                return Optional.of("volume " + v.name() + ": " + key + " " + path + " is the device of volume "
                        + other.name() + ", served by this daemon; a volume never sits on one of dmcowd's own "
                        + "devices");
            }
        }
        return Optional.empty();
    }
}
