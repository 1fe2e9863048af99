/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.TypedActorContext;

/**
 * Runs an action after every message that a behaviour, or any behaviour it becomes, handles: work
 * that each state of an actor owes after each message, written once instead of in every handler.
 */
final class AfterEachMessage<T> extends BehaviorInterceptor<T, T> {
    private final Runnable action;

    AfterEachMessage(Class<T> messages, Runnable action) {
        super(messages);
        this.action = action;
    }

    @Override
    public Behavior<T> aroundReceive(TypedActorContext<T> ctx, T msg, ReceiveTarget<T> target) {
        Behavior<T> next = target.apply(ctx, msg);
        action.run();
        return next;
    }
}
