package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class WatchdogTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    @Test
    void anUnsupervisedActorThatCrashesRunsTheStopAction() throws Exception {
        ActorRef<String> root = KIT.spawn(Behaviors.receiveMessage(m -> {
            throw new IllegalStateException("crash on " + m);
        }));
        CompletableFuture<String> stopped = new CompletableFuture<>();
        KIT.spawn(Watchdog.create(root, () -> stopped.complete("stopped")));
        root.tell("boom");
        assertEquals("stopped", stopped.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aLiveActorDoesNotRunIt() throws Exception {
        ActorRef<String> root = KIT.spawn(Behaviors.receiveMessage(m -> Behaviors.same()));
        CompletableFuture<String> stopped = new CompletableFuture<>();
        KIT.spawn(Watchdog.create(root, () -> stopped.complete("stopped")));
        root.tell("fine");
        Thread.sleep(500);
        assertEquals(false, stopped.isDone());
        KIT.stop(root);
        assertEquals("stopped", stopped.get(10, TimeUnit.SECONDS));
    }
}
