/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.host;

import java.util.Optional;
import java.util.function.IntSupplier;

/**
 * prctl(PR_SET_IO_FLUSHER) (Linux 5.6): marks the calling thread as one that block I/O waits on,
 * as dmcowd is for the guests' writes to dm-cow volumes. The kernel then never lets the thread's
 * memory allocations start or wait on I/O to reclaim memory (PF_MEMALLOC_NOIO), which could be
 * I/O waiting on the thread itself, and throttles its writes only against the device it writes
 * to (PF_LOCAL_THROTTLE). The flag belongs to one thread and is inherited by the threads it starts
 * afterwards: mark the main thread before any thread pool exists.
 */
public final class IoFlusher {
    static final int PR_SET_IO_FLUSHER = 57;
    static final int PR_GET_IO_FLUSHER = 58;
    private static final int EPERM = 1;

    private IoFlusher() {
    }

    /** Marks the calling thread; empty when done, else why not, with the system's reason. */
    public static Optional<String> markThisThread() {
        return markThisThread(() -> LibC.ffi().prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0 ? 0 : LibC.errno());
    }

    /** {@code setFlag}: sets the flag on the calling thread, returns 0 or the errno it failed with. */
    static Optional<String> markThisThread(IntSupplier setFlag) {
        int errno = setFlag.getAsInt();
        if (errno == 0) {
            return Optional.empty();
        }
        String reason = "prctl(PR_SET_IO_FLUSHER) failed: " + LibC.posix().strerror(errno) + " (errno " + errno + ")";
        if (errno == EPERM) {
            return Optional.of(reason + ": the process lacks CAP_SYS_RESOURCE");
        }
        if (errno == LibC.EINVAL) {
            return Optional.of(reason + ": the kernel is older than 5.6, which has no PR_SET_IO_FLUSHER");
        }
        return Optional.of(reason);
    }
}
