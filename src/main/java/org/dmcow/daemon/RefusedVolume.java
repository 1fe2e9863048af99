/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.dmcow.admin.GrowResult;
import org.dmcow.admin.Histogram;
import org.dmcow.admin.VolumeMetrics;
import org.dmcow.admin.VolumeStatus;

/**
 * A volume whose config was refused: it speaks {@link Volume}'s protocol but only reports why,
 * takes the kernel's messages for it (they wait in the kernel), and stops when asked.
 */
final class RefusedVolume {
    private RefusedVolume() {
    }

    static Behavior<Volume.Command> create(String name, String reason) {
        return Behaviors.setup(ctx -> {
            ctx.getLog().error("volume {}: not started: {}", name, reason);
            return Behaviors.receive(Volume.Command.class)
                    .onMessage(Volume.FromKernel.class, m -> {
                        m.accepted().accept();
                        return Behaviors.same();
                    })
                    .onMessage(Volume.GetStatus.class, m -> {
                        m.replyTo().tell(status(name, reason));
                        return Behaviors.same();
                    })
                    .onMessage(Volume.GetMetrics.class, m -> {
                        m.replyTo().tell(new VolumeMetrics(status(name, reason), 0, 0, 0, 0, 0, 0, 0, 0,
                                Histogram.empty(VolumeCounters.COMMIT_BOUNDS)));
                        return Behaviors.same();
                    })
                    .onMessage(Volume.Grow.class, m -> {
                        m.replyTo().tell(GrowResult.refused(name, "the volume is not started: " + reason));
                        return Behaviors.same();
                    })
                    .onMessage(Volume.Shutdown.class, m -> {
                        m.replyTo().tell(new ShutdownResult(name, null));
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }

    private static VolumeStatus status(String name, String reason) {
        return new VolumeStatus(name, VolumeStatus.State.DEGRADED, reason, 0, 0, 0, 0, 0, null, 0, 0, 0, null, null,
                null, false);
    }
}
