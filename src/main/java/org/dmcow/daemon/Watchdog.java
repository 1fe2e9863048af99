/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Watches an actor that has no supervisor above it (the root {@link VolumeSet}) and runs
 * {@code onStop} when it stops. A daemon whose root stopped would stay up and answer no fault;
 * exiting instead lets the service manager restart it and the kernel replay to the new one.
 */
public final class Watchdog {
    /** Never sent: the watchdog only receives the Terminated signal. */
    public interface Command {
    }

    private Watchdog() {
    }

    public static Behavior<Command> create(ActorRef<?> watched, Runnable onStop) {
        return Behaviors.setup(ctx -> {
            ctx.watch(watched);
            return Behaviors.receive(Command.class)
                    .onSignal(Terminated.class, t -> {
                        onStop.run();
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }
}
