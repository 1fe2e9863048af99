/*
 * Licensed under the Apache License, Version 2.0. See LICENSE.
 */
package org.dmcow.daemon;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.dmcow.dm.DeviceMapper;
import org.dmcow.dm.LoopDevices;

/** Device-mapper and loop devices in memory: tables kept per name, open counts set by tests. */
final class FakeDevices implements DeviceMapper, LoopDevices {
    static final class Device {
        List<Target> live = List.of();
        List<Target> inactive;
        boolean suspended;
        int openCount;
        int loads;
        /** Tables made live by a resume after a suspend: each drained what the old one had sent. */
        int swaps;
    }

    final Map<String, Device> devices = new ConcurrentHashMap<>();
    final Map<Path, Loop> loops = new ConcurrentHashMap<>();
    private final AtomicInteger nextLoop = new AtomicInteger();

    @Override
    public synchronized DeviceStatus status(String name) {
        Device d = devices.get(name);
        return d == null ? DeviceStatus.ABSENT : new DeviceStatus(true, d.openCount, 253, 0, d.live.size(), d.suspended);
    }

    @Override
    public synchronized DeviceStatus create(String name, String uuid) throws IOException {
        if (devices.putIfAbsent(name, new Device()) != null) {
            throw new IOException(name + " exists");
        }
        return status(name);
    }

    /** The next this many loads crash the caller (a RuntimeException), once {@link #crashGate} opens. */
    final AtomicInteger crashLoads = new AtomicInteger();
    volatile CountDownLatch crashGate = new CountDownLatch(0);
    /** Loop attachments asked for, found or new. */
    final AtomicInteger attaches = new AtomicInteger();

    @Override
    public void load(String name, List<Target> table) throws IOException {
        if (crashLoads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            try {
                crashGate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("injected crash in the middle of loading a table into " + name);
        }
        synchronized (this) {
            device(name).inactive = new ArrayList<>(table);
            device(name).loads++;
        }
    }

    /** The next this many suspends crash the caller mid-reload (after the load). */
    final AtomicInteger crashSuspends = new AtomicInteger();
    /**
     * Before the next this many suspends, an operator loads the live table again by hand: it
     * replaces the table the caller loaded, and the caller's resume makes the old one live again.
     */
    final AtomicInteger manualLoadsBeforeSuspend = new AtomicInteger();

    @Override
    public synchronized void suspendNoflush(String name) throws IOException {
        if (manualLoadsBeforeSuspend.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            device(name).inactive = new ArrayList<>(device(name).live);
        }
        if (crashSuspends.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            device(name).suspended = true;
            throw new IllegalStateException("injected crash in the middle of suspending " + name);
        }
        device(name).suspended = true;
    }

    @Override
    public synchronized void resume(String name) throws IOException {
        Device d = device(name);
        if (d.inactive != null) {
            d.live = d.inactive;
            d.inactive = null;
            d.swaps++;
        }
        d.suspended = false;
    }

    @Override
    public synchronized void remove(String name) throws IOException {
        Device d = device(name);
        if (d.openCount > 0) {
            throw new IOException(name + " is busy");
        }
        devices.remove(name);
    }

    @Override
    public String holders(String name, DeviceStatus status) {
        return "open " + status.openCount() + " time(s), held by [qemu-test]";
    }

    @Override
    public synchronized List<Target> table(String name) throws IOException {
        return device(name).live;
    }

    private Device device(String name) throws IOException {
        Device d = devices.get(name);
        if (d == null) {
            throw new IOException("no device " + name);
        }
        return d;
    }

    @Override
    public Loop attach(Path file, boolean readOnly) {
        attaches.incrementAndGet();
        return loops.computeIfAbsent(file, f -> {
            int n = nextLoop.getAndIncrement();
            return new Loop(Path.of("/dev/loop" + n), "7:" + n);
        });
    }

    @Override
    public void refreshCapacity(Path loop) {
    }

    @Override
    public void detach(Path loop) {
    }
}
