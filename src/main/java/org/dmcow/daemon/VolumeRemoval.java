/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.slf4j.Logger;

/**
 * A volume's side of its removal (it left the config). The device must be unused before anything
 * changes; then the volume commits and reloads as for a shutdown, and removes the device only if
 * it is still unused. Either refusal leaves the volume serving, and says why.
 *
 * <pre>
 *   Shutdown(remove) ─▶ CheckRemovable ─┬─ RemoveRefused ─────────────────▶ serving (refused)
 *                                        └─ Removable ─▶ commit, reload ─▶ Remove ─┬─ Removed ─▶ stopped
 *                                           (the daemon stopping meanwhile:         └─ Removed(error)
 *                                            refused, the device stays)                ─▶ serving (refused)
 * </pre>
 */
final class VolumeRemoval {
    private final String volume;
    private final Logger log;
    /** The removal asked for, while the device is checked for users. */
    private Volume.Shutdown asked;

    VolumeRemoval(String volume, Logger log) {
        this.volume = volume;
        this.log = log;
    }

    /** Asks for the check that the device is unused; until its answer nothing changes. */
    TableReloader.Command ask(Volume.Shutdown removal) {
        asked = removal;
        return TableReloader.CheckRemovable.INSTANCE;
    }

    /** The device is in use: the volume stays and keeps serving. */
    void refused(String reason) {
        log.warn("volume {}: not removed, it stays and keeps serving: {}", volume, reason);
        asked.replyTo().tell(new Volume.ShutdownResult(volume, reason));
        asked = null;
    }

    /**
     * The device is unused: the shutdown to run now, or null when the daemon began stopping
     * meanwhile (then the device stays, like every other).
     */
    Volume.Shutdown removable(boolean daemonStopping) {
        Volume.Shutdown removal = asked;
        asked = null;
        if (daemonStopping) {
            removal.replyTo().tell(new Volume.ShutdownResult(volume, "the daemon is stopping"));
            return null;
        }
        log.info("volume {}: committing before removal", volume);
        return removal;
    }

    /** The answer to Remove; true when the device is gone and the volume stops. */
    boolean removed(Volume.Shutdown removal, String error) {
        if (error != null) {
            // opened meanwhile: it keeps serving
            log.warn("volume {}: not removed, it stays and keeps serving: {}", volume, error);
        } else {
            log.info("volume {}: removed /dev/mapper/{}", volume, volume);
        }
        removal.replyTo().tell(new Volume.ShutdownResult(volume, error));
        return error == null;
    }
}
