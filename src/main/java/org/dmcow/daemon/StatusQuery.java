/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * One status or metrics request: asks every volume, answers {@code replyTo} with the answers of
 * type {@code T} that came back within the timeout (by name), then stops. Its own actor so that the
 * volume set never waits: a volume busy in a long commit holds back neither the set nor, for long,
 * the others' status.
 */
final class StatusQuery<T> extends AbstractBehavior<StatusQuery.Command> {
    interface Command {
    }

    private record Answered(Object answer) implements Command {
    }

    private enum Timeout implements Command {
        INSTANCE
    }

    private final int asked;
    private final Class<T> type;
    private final Function<T, String> name;
    private final ActorRef<List<T>> replyTo;
    private final List<T> got = new ArrayList<>();

    /** Asks each of {@code volumes} {@code question}; {@code name} orders the answers. */
    static <T> Behavior<Command> create(List<ActorRef<Volume.Command>> volumes, Class<T> type,
            Function<ActorRef<T>, Volume.Command> question, Function<T, String> name, ActorRef<List<T>> replyTo,
            Duration timeout) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            if (volumes.isEmpty()) {
                replyTo.tell(List.of());
                return Behaviors.stopped();
            }
            return new StatusQuery<>(ctx, timers, volumes, type, question, name, replyTo, timeout);
        }));
    }

    private StatusQuery(ActorContext<Command> ctx, TimerScheduler<Command> timers, List<ActorRef<Volume.Command>> volumes,
            Class<T> type, Function<ActorRef<T>, Volume.Command> question, Function<T, String> name,
            ActorRef<List<T>> replyTo, Duration timeout) {
        super(ctx);
        this.asked = volumes.size();
        this.type = type;
        this.name = name;
        this.replyTo = replyTo;
        ActorRef<T> answers = ctx.messageAdapter(type, Answered::new);
        volumes.forEach(v -> v.tell(question.apply(answers)));
        timers.startSingleTimer(Timeout.INSTANCE, timeout);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Answered.class, m -> {
                    got.add(type.cast(m.answer()));
                    return got.size() == asked ? answer() : this;
                })
                .onMessage(Timeout.class, m -> answer())
                .build();
    }

    private Behavior<Command> answer() {
        got.sort(Comparator.comparing(name));
        replyTo.tell(got);
        return Behaviors.stopped();
    }
}
