/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The flag as this host's kernel grants it (or refuses it, in a container without
 * CAP_SYS_RESOURCE), and the reasons a refusal gives. The VM scenario daemon-reload.sh shows the
 * daemon's threads carrying it.
 */
class IoFlusherTest {
    /** PR_GET_IO_FLUSHER on the calling thread: 1, 0, or -1 where the kernel refuses to tell. */
    private static int flagOfThisThread() {
        return LibC.ffi().prctl(IoFlusher.PR_GET_IO_FLUSHER, 0, 0, 0, 0);
    }

    /** Runs {@code body} on a thread of its own and returns its result. */
    private static <T> T onNewThread(Supplier<T> body) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                result.complete(body.get());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        t.start();
        t.join();
        return result.get();
    }

    /** What a thread saw: why it was refused (if it was), its flag, and the flag of a thread it then started. */
    private record Outcome(Optional<String> refused, int self, int child) {
    }

    @Test
    void theOutcomeIsWhatTheKernelSays() throws Exception {
        // a thread of its own: the flag stays with the thread that set it
        Outcome seen = onNewThread(() -> {
            Optional<String> refused = IoFlusher.markThisThread();
            int self = flagOfThisThread();
            try {
                return new Outcome(refused, self, onNewThread(IoFlusherTest::flagOfThisThread));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        if (seen.refused().isEmpty()) {
            assertEquals(new Outcome(Optional.empty(), 1, 1), seen, "the thread and one it started afterwards");
            assertEquals(0, onNewThread(IoFlusherTest::flagOfThisThread), "a thread never marked");
        } else {
            assertNotEquals(1, seen.self(), "refused, yet flagged: " + seen);
            assertTrue(seen.refused().get().startsWith("prctl(PR_SET_IO_FLUSHER) failed: "), seen.toString());
        }
    }

    @Test
    void aRefusalNamesTheSystemsReasonAndWhatItMeans() {
        assertEquals(Optional.empty(), IoFlusher.markThisThread(() -> 0));
        assertEquals(Optional.of("prctl(PR_SET_IO_FLUSHER) failed: " + LibC.posix().strerror(1)
                + " (errno 1): the process lacks CAP_SYS_RESOURCE"), IoFlusher.markThisThread(() -> 1));
        assertEquals(Optional.of("prctl(PR_SET_IO_FLUSHER) failed: " + LibC.posix().strerror(22)
                + " (errno 22): the kernel is older than 5.6, which has no PR_SET_IO_FLUSHER"),
                IoFlusher.markThisThread(() -> 22));
        assertEquals(Optional.of("prctl(PR_SET_IO_FLUSHER) failed: " + LibC.posix().strerror(12) + " (errno 12)"),
                IoFlusher.markThisThread(() -> 12));
    }
}
