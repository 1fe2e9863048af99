/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.apache.pekko.actor.typed.ActorRef;
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
    /** Who asked for the removal, while the device is checked for users. */
    private ActorRef<ShutdownResult> asker;

    VolumeRemoval(String volume, Logger log) {
        this.volume = volume;
        this.log = log;
    }

    /** Asks for the check that the device is unused; until its answer nothing changes. */
    TableReloader.Command ask(ActorRef<ShutdownResult> replyTo) {
        asker = replyTo;
        return TableReloader.CheckRemovable.INSTANCE;
    }

    /** The device is in use: the volume stays and keeps serving. */
    void refused(String reason) {
        log.warn("volume {}: not removed, it stays and keeps serving: {}", volume, reason);
        asker.tell(new ShutdownResult(volume, reason));
        asker = null;
    }

    /**
     * The device is unused: who asked, for the removal to run now, or null when the daemon began
     * stopping meanwhile (then the device stays, like every other).
     */
    ActorRef<ShutdownResult> removable(boolean daemonStopping) {
        ActorRef<ShutdownResult> replyTo = asker;
        asker = null;
        if (daemonStopping) {
            replyTo.tell(new ShutdownResult(volume, "the daemon is stopping"));
            return null;
        }
        log.info("volume {}: committing before removal", volume);
        return replyTo;
    }

    /** The answer to Remove; true when the device is gone and the volume stops. */
    boolean removed(ActorRef<ShutdownResult> replyTo, String error) {
        if (error != null) {
            // opened meanwhile: it keeps serving
            log.warn("volume {}: not removed, it stays and keeps serving: {}", volume, error);
        } else {
            log.info("volume {}: removed /dev/mapper/{}", volume, volume);
        }
        replyTo.tell(new ShutdownResult(volume, error));
        return error == null;
    }
}
