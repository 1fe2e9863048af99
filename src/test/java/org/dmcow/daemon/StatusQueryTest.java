/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.dmcow.admin.VolumeStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** One status request alone: probes stand in for the volumes and the asker. */
class StatusQueryTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private static VolumeStatus serving(String name) {
        return new VolumeStatus(name, VolumeStatus.State.SERVING, null, 0, 0, 0, 0, 0, null, 0, 0, 0, null, null, null, false);
    }

    @Test
    void answersByNameOnceEveryVolumeAnswered() {
        TestProbe<Volume.Command> a = KIT.createTestProbe();
        TestProbe<Volume.Command> b = KIT.createTestProbe();
        TestProbe<List<VolumeStatus>> asker = KIT.createTestProbe();
        KIT.spawn(StatusQuery.create(List.of(a.getRef(), b.getRef()), VolumeStatus.class,
                Volume.GetStatus::new, VolumeStatus::name, asker.getRef(), Duration.ofMinutes(1)));
        b.expectMessageClass(Volume.GetStatus.class).replyTo().tell(serving("b"));
        asker.expectNoMessage(Duration.ofMillis(100));
        a.expectMessageClass(Volume.GetStatus.class).replyTo().tell(serving("a"));
        assertEquals(List.of(serving("a"), serving("b")), asker.receiveMessage());
    }

    @Test
    void aVolumeThatDoesNotAnswerIsLeftOutAfterTheTimeout() {
        TestProbe<Volume.Command> busy = KIT.createTestProbe();
        TestProbe<Volume.Command> ok = KIT.createTestProbe();
        TestProbe<List<VolumeStatus>> asker = KIT.createTestProbe();
        KIT.spawn(StatusQuery.create(List.of(busy.getRef(), ok.getRef()), VolumeStatus.class,
                Volume.GetStatus::new, VolumeStatus::name, asker.getRef(), Duration.ofMillis(300)));
        busy.expectMessageClass(Volume.GetStatus.class);
        ok.expectMessageClass(Volume.GetStatus.class).replyTo().tell(serving("ok"));
        assertEquals(List.of(serving("ok")), asker.receiveMessage(Duration.ofSeconds(5)));
    }

    @Test
    void noVolumesIsAnEmptyAnswer() {
        TestProbe<List<VolumeStatus>> asker = KIT.createTestProbe();
        KIT.spawn(StatusQuery.<VolumeStatus>create(List.of(), VolumeStatus.class, Volume.GetStatus::new,
                VolumeStatus::name, asker.getRef(), Duration.ofMinutes(1)));
        assertEquals(List.of(), asker.receiveMessage());
    }
}
