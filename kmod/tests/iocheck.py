#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Direct-I/O checks for dm-cow VM scenarios (python3 stdlib only).

  iocheck.py compare DEV FILE               DEV reads exactly as FILE (O_DIRECT)
  iocheck.py pattern DEV BASE CHUNK_SECTORS SEED MODEL
        writes of many sizes and offsets (sub-chunk, 4 KiB, whole chunk, crossing
        chunks, last partial chunk, rewrites, concurrent writes to one chunk),
        then reads the whole device back and compares it with BASE plus the
        writes; the expected image is saved as MODEL
  iocheck.py timed-write DEV OFFSET fsync|fua   4 KiB direct write, then fsync
        (or an O_DSYNC write, i.e. FUA); prints the seconds it took
  iocheck.py write DEV OFFSET BYTES SEED    one direct write
  iocheck.py linear-table STATE IDENT VOLUME_SECTORS CHUNK_SECTORS BASE COW [KEEP]
        a table mapping the committed chunks in the responder's STATE with linear
        segments, except those in the comma-separated list KEEP, and everything
        else with cow segments
"""
import json
import mmap
import os
import random
import sys
import threading
import time

SECTOR = 512


def die(msg):
    print("iocheck: " + msg, file=sys.stderr)
    sys.exit(1)


def data(nbytes, seed):
    return random.Random(seed).randbytes(nbytes)


def dev_size(fd):
    return os.lseek(fd, 0, os.SEEK_END)


def direct_write(fd, offset, payload):
    buf = mmap.mmap(-1, max(len(payload), mmap.PAGESIZE))
    buf[:len(payload)] = payload
    n = os.pwritev(fd, [memoryview(buf)[:len(payload)]], offset)
    if n != len(payload):
        die("short write at %d: %d of %d" % (offset, n, len(payload)))


def direct_read(fd, offset, nbytes):
    buf = mmap.mmap(-1, max(nbytes, mmap.PAGESIZE))
    n = os.preadv(fd, [memoryview(buf)[:nbytes]], offset)
    return bytes(buf[:n])


def compare_fd(fd, expected, what):
    size = dev_size(fd)
    if size != len(expected):
        die("%s: device is %d bytes, expected %d" % (what, size, len(expected)))
    step = 1 << 20
    bad = 0
    for off in range(0, size, step):
        got = direct_read(fd, off, min(step, size - off))
        want = expected[off:off + len(got)]
        if got != want:
            first = next(i for i in range(len(got)) if got[i] != want[i])
            print("MISMATCH %s at byte %d (sector %d)" % (what, off + first, (off + first) // SECTOR))
            bad += 1
    if bad:
        die("%s: %d MiB blocks differ" % (what, bad))


def cmd_compare(dev, path):
    with open(path, "rb") as f:
        expected = f.read()
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    compare_fd(fd, expected, dev)
    print("compare %s: %d bytes equal %s" % (dev, len(expected), path))


def cmd_pattern(dev, base, chunk_sectors, seed, model_path):
    cb = int(chunk_sectors) * SECTOR
    seed = int(seed)
    with open(base, "rb") as f:
        model = bytearray(f.read())
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    size = dev_size(fd)
    if size != len(model):
        die("%s is %d bytes, base is %d" % (dev, size, len(model)))
    last = (size - 1) // cb * cb          # start of the last chunk
    if size - last == cb:
        die("the scenario needs a base whose size is not a multiple of the chunk")
    writes = [
        ("sub-chunk 512 B", cb * 1 + 512, 512),
        ("4 KiB", cb * 2 + 4096, 4096),
        ("whole chunk", cb * 3, cb),
        ("crossing two chunks", cb * 5 - 4096, 8192),
        ("spanning three chunks", cb * 7 + 512, 2 * cb),
        ("rewrite inside a filled chunk", cb * 1 + 4096, 4096),
        ("last partial chunk, inside", last + 4096, 4096),
        ("ends at the device's end", size - 1024, 1024),
        ("whole last partial chunk", last - cb, cb + (size - last)),
    ]
    for i, (what, off, n) in enumerate(writes):
        payload = data(n, seed * 1000 + i)
        direct_write(fd, off, payload)
        model[off:off + n] = payload
        print("wrote %-30s offset %d length %d" % (what, off, n))
    # Several writes wait on one unmapped chunk at once: one fault serves them all.
    chunk = 11
    threads = []
    for i in range(4):
        off = chunk * cb + i * (cb // 4)
        payload = data(4096, seed * 1000 + 100 + i)
        model[off:off + 4096] = payload
        threads.append(threading.Thread(target=direct_write, args=(fd, off, payload)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("wrote 4 concurrent 4 KiB writes into chunk %d" % chunk)
    compare_fd(fd, model, dev)
    with open(model_path, "wb") as f:
        f.write(model)
    print("pattern %s: %d writes read back exactly; every other byte reads as the base" % (dev, len(writes) + 4))


def cmd_timed_write(dev, offset, how):
    flags = os.O_RDWR | os.O_DIRECT | (os.O_DSYNC if how == "fua" else 0)
    fd = os.open(dev, flags)
    start = time.monotonic()
    direct_write(fd, int(offset), data(4096, int(offset)))
    if how == "fsync":
        os.fsync(fd)
    print("%.3f" % (time.monotonic() - start))


def cmd_write(dev, offset, nbytes, seed):
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    direct_write(fd, int(offset), data(int(nbytes), int(seed)))


def cmd_linear_table(state_path, ident, volume_sectors, chunk_sectors, base, cow, keep=""):
    volume_sectors, cs = int(volume_sectors), int(chunk_sectors)
    keep = {int(c) for c in keep.split(",") if c}
    with open(state_path) as f:
        committed = {int(c): s for c, s in json.load(f)[ident]["committed"].items() if int(c) not in keep}
    nr_chunks = (volume_sectors + cs - 1) // cs
    segments = []                          # (start, len, line tail)
    for c in range(nr_chunks):
        start = c * cs
        n = min(cs, volume_sectors - start)
        if c in committed:
            segments.append([start, n, "linear %s %d" % (cow, committed[c])])
        elif segments and segments[-1][2].startswith("cow"):
            segments[-1][1] += n
        else:
            segments.append([start, n, "cow %s %s %s %d" % (ident, base, cow, cs)])
    for start, n, tail in segments:
        print("%d %d %s" % (start, n, tail))


def main():
    cmds = {"compare": cmd_compare, "pattern": cmd_pattern,
            "timed-write": cmd_timed_write, "write": cmd_write, "linear-table": cmd_linear_table}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        die(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
