/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dmcow.admin.VolumeStatus;

/**
 * One status request: asks every volume, answers {@code replyTo} with the statuses that came back
 * within the timeout (by name), then stops. Its own actor so that the volume set never waits: a
 * volume busy in a long commit holds back neither the set nor, for long, the others' status.
 */
final class StatusQuery extends AbstractBehavior<StatusQuery.Command> {
    interface Command {
    }

    private record Answered(VolumeStatus status) implements Command {
    }

    private enum Timeout implements Command {
        INSTANCE
    }

    private final int asked;
    private final ActorRef<List<VolumeStatus>> replyTo;
    private final List<VolumeStatus> got = new ArrayList<>();

    static Behavior<Command> create(List<ActorRef<Volume.Command>> volumes, ActorRef<List<VolumeStatus>> replyTo,
            Duration timeout) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            if (volumes.isEmpty()) {
                replyTo.tell(List.of());
                return Behaviors.stopped();
            }
            return new StatusQuery(ctx, timers, volumes, replyTo, timeout);
        }));
    }

    private StatusQuery(ActorContext<Command> ctx, TimerScheduler<Command> timers, List<ActorRef<Volume.Command>> volumes,
            ActorRef<List<VolumeStatus>> replyTo, Duration timeout) {
        super(ctx);
        this.asked = volumes.size();
        this.replyTo = replyTo;
        ActorRef<VolumeStatus> answers = ctx.messageAdapter(VolumeStatus.class, Answered::new);
        volumes.forEach(v -> v.tell(new Volume.GetStatus(answers)));
        timers.startSingleTimer(Timeout.INSTANCE, timeout);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Answered.class, m -> {
                    got.add(m.status());
                    return got.size() == asked ? answer() : this;
                })
                .onMessage(Timeout.class, m -> answer())
                .build();
    }

    private Behavior<Command> answer() {
        got.sort(Comparator.comparing(VolumeStatus::name));
        replyTo.tell(got);
        return Behaviors.stopped();
    }
}
