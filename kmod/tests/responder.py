#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Test responder for /dev/dm-cow: plays the allocation daemon in VM scenarios.

It speaks the protocol of kmod/dm-cow.h with os.read/os.write and struct only.
Every message it receives or sends is logged as one line (to stdout or --log),
so scenarios can check what the kernel said, e.g.
    FAULT vol=1 chunk=5 seq=3 flags=1
    -> MAP vol=1 chunk=5 seq=3 cow=128 fill=none

Placement is sequential per volume (--first-sector, then one chunk after the
other). --state FILE keeps placements across restarts, as a daemon's metadata
would: replayed GRANTED/FILLED remaps are adopted before anything is placed.
--grant sends GRANTs after the replay (their slots are placed the same way) and
--revoke REVOKEs, each result logged, e.g.
    GRANT-RESULT vol1 id=1 first=100 count=16 cow=512 ok
    REVOKED vol=1 id=1 first=100 count=16 cow=512 fill=copy used=0,1,2
"""
import argparse
import ctypes
import errno
import json
import os
import select
import signal
import struct
import sys
import time

# The twin of dm-cow.h's DM_COW_X is X; ProtocolHeaderTest checks the values against the header.
MSG_SIZE = 128
PROTOCOL_VERSION = 4
MAX_READ_MSGS = 64
MAX_WRITE_MSGS = 256
MAX_GRANT_CHUNKS = 512

(MSG_HELLO, MSG_VOLUME, MSG_VOLUME_GONE, MSG_FAULT, MSG_GRANTED, MSG_FILLED, MSG_FLUSH,
 MSG_REPLAY_DONE, MSG_DISCARD, MSG_GRANT_LOW, MSG_REVOKED, MSG_GRANT_LIVE) = range(1, 13)
MSG_MAP, MSG_FAIL, MSG_COMMITTED, MSG_FORGET, MSG_GRANT, MSG_REVOKE = 16, 17, 18, 19, 20, 21
NAMES = {MSG_HELLO: "HELLO", MSG_VOLUME: "VOLUME", MSG_VOLUME_GONE: "VOLUME_GONE", MSG_FAULT: "FAULT",
         MSG_GRANTED: "GRANTED", MSG_FILLED: "FILLED", MSG_FLUSH: "FLUSH", MSG_REPLAY_DONE: "REPLAY_DONE",
         MSG_DISCARD: "DISCARD", MSG_GRANT_LOW: "GRANT_LOW", MSG_REVOKED: "REVOKED", MSG_GRANT_LIVE: "GRANT_LIVE",
         MSG_MAP: "MAP", MSG_FAIL: "FAIL", MSG_COMMITTED: "COMMITTED", MSG_FORGET: "FORGET",
         MSG_GRANT: "GRANT", MSG_REVOKE: "REVOKE"}
FILL_COPY, FILL_ZERO, FILL_NONE = 0, 1, 2
FILL_NAMES = {FILL_COPY: "copy", FILL_ZERO: "zero", FILL_NONE: "none"}
FAULT_FULL_WRITE = 1

HEADER = struct.Struct("<IIQ")            # type, volume, seq
CHUNK = struct.Struct("<QQIIII")          # chunk, cow_sector, fill, flags, error, grant
GRANT_BODY = struct.Struct("<QQII64s")    # first_chunk, cow_sector, count, fill, used bitmap
HELLO_BODY = struct.Struct("<IIII")       # version, msg_size, max_copies, reserved
VOLUME_BODY = struct.Struct("<QQIIII64s")  # sectors, cow_sectors, chunk_sectors, base, cow, rsvd, ident


def chunk_msg(mtype, vol, seq, chunk, cow_sector=0, fill=0, flags=0, error=0, grant=0):
    body = HEADER.pack(mtype, vol, seq) + CHUNK.pack(chunk, cow_sector, fill, flags, error, grant)
    return body.ljust(MSG_SIZE, b"\0")


def grant_msg(mtype, vol, gid, first=0, count=0, cow_sector=0, fill=0, used=b""):
    body = HEADER.pack(mtype, vol, gid) + GRANT_BODY.pack(first, cow_sector, count, fill, used)
    return body.ljust(MSG_SIZE, b"\0")


def used_slots(used):
    """The slot numbers set in a grant's used bitmap, as 0,3,4 (or -)."""
    bits = int.from_bytes(used, "little")
    return ",".join(str(i) for i in range(MAX_GRANT_CHUNKS) if bits >> i & 1) or "-"


def hello_msg(version=PROTOCOL_VERSION):
    return (HEADER.pack(MSG_HELLO, 0, 0) + HELLO_BODY.pack(version, MSG_SIZE, 0, 0)).ljust(MSG_SIZE, b"\0")


class Volume:
    def __init__(self, vid, ident, sectors, cow_sectors, chunk_sectors):
        self.id = vid
        self.ident = ident
        self.sectors = sectors
        self.cow_sectors = cow_sectors
        self.chunk_sectors = chunk_sectors
        self.nr_chunks = (sectors + chunk_sectors - 1) // chunk_sectors
        self.placed = {}        # chunk -> cow sector (granted, filled or committed)
        self.filled = {}        # chunk -> fill seq, not committed yet
        self.committed = set()
        self.next_sector = None


class Responder:
    def __init__(self, args):
        self.args = args
        self.out = open(args.log, "a", buffering=1) if args.log else sys.stdout
        self.fd = None
        self.volumes = {}       # id -> Volume
        self.timers = []        # (when, fn)
        self.faults_seen = 0
        self.maps_sent = 0
        self.replay_done = False
        self.held_fault = None
        self.state = self.load_state()
        self.bad_reads_left = args.bad_reads
        self.bad_page = None

    # ---------------------------------------------------------------- plumbing

    def log(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def load_state(self):
        if self.args.state and os.path.exists(self.args.state):
            with open(self.args.state) as f:
                return json.load(f)
        return {}

    def save_state(self):
        if not self.args.state:
            return
        data = {}
        for vol in self.volumes.values():
            data[vol.ident] = {"next_sector": vol.next_sector,
                               "committed": {str(c): vol.placed[c] for c in vol.committed}}
        for ident, saved in self.state.items():
            data.setdefault(ident, saved)
        tmp = self.args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.args.state)

    def send(self, msg, what):
        self.log("-> " + what)
        os.write(self.fd, msg)

    def try_send(self, msg):
        """Send one write; return 0 or the errno it failed with."""
        try:
            os.write(self.fd, msg)
            return 0
        except OSError as e:
            return e.errno

    def at(self, delay, fn):
        self.timers.append((time.monotonic() + delay, fn))

    # ---------------------------------------------------------------- session

    def open(self):
        self.fd = os.open(self.args.device, os.O_RDWR | os.O_NONBLOCK)
        if self.args.check_busy:
            try:
                os.close(os.open(self.args.device, os.O_RDWR))
                self.log("BUSY-CHECK FAILED: a second open succeeded")
                sys.exit(4)
            except OSError as e:
                self.log("BUSY-CHECK %s" % errno.errorcode.get(e.errno, e.errno))
                if e.errno != errno.EBUSY:
                    sys.exit(4)

    def handshake(self):
        msgs = []
        while not msgs:
            msgs = self.read_messages(block=True)
        mtype, _, _ = HEADER.unpack_from(msgs[0])
        version, size, max_copies, _ = HELLO_BODY.unpack_from(msgs[0], HEADER.size)
        if mtype != MSG_HELLO:
            self.log("PROTOCOL ERROR: first message is type %d" % mtype)
            sys.exit(5)
        self.log("HELLO version=%d msg_size=%d max_copies=%d" % (version, size, max_copies))
        if self.args.hello_version != PROTOCOL_VERSION:
            err = self.try_send(hello_msg(self.args.hello_version))
            self.log("HELLO-REFUSED %s" % (errno.errorcode.get(err, err) if err else "accepted"))
            sys.exit(0 if err == errno.EPROTO else 6)
        self.send(hello_msg(), "HELLO version=%d" % PROTOCOL_VERSION)
        for m in msgs[1:]:
            self.handle(m)

    def bad_read(self):
        """Read into memory that cannot be written: a page with no access, or a buffer whose
        first message fits before it. The kernel must keep what it could not copy out."""
        libc = ctypes.CDLL(None, use_errno=True)
        if self.bad_page is None:
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_long]
            base = libc.mmap(None, 8192, 3, 0x22, -1, 0)    # PROT_READ|WRITE, PRIVATE|ANONYMOUS
            libc.mprotect(ctypes.c_void_p(base + 4096), 4096, 0)
            self.bad_page = base + 4096
        partial = self.bad_reads_left % 2 == 0
        self.bad_reads_left -= 1
        addr = self.bad_page - (MSG_SIZE if partial else 0)
        n = libc.read(self.fd, ctypes.c_void_p(addr), MSG_SIZE * MAX_READ_MSGS)
        err = ctypes.get_errno()
        if n < 0:
            self.log("BAD-READ %s %s" % ("partial" if partial else "unmapped",
                                          errno.errorcode.get(err, err)))
            return []
        self.log("BAD-READ %s returned %d" % ("partial" if partial else "unmapped", n))
        if n % MSG_SIZE:
            self.log("PROTOCOL ERROR: read returned %d bytes" % n)
            sys.exit(5)
        data = ctypes.string_at(addr, n)
        return [data[i:i + MSG_SIZE] for i in range(0, n, MSG_SIZE)]

    def read_messages(self, block):
        if self.bad_reads_left > 0:
            ready, _, _ = select.select([self.fd], [], [], None if block else 0)
            if ready:
                return self.bad_read()
        while True:
            try:
                data = os.read(self.fd, MSG_SIZE * MAX_READ_MSGS)
            except BlockingIOError:
                if not block:
                    return []
                select.select([self.fd], [], [], 1.0)
                continue
            if len(data) % MSG_SIZE or not data:
                self.log("PROTOCOL ERROR: read returned %d bytes" % len(data))
                sys.exit(5)
            return [data[i:i + MSG_SIZE] for i in range(0, len(data), MSG_SIZE)]

    def run(self):
        self.open()
        self.handshake()
        while True:
            now = time.monotonic()
            due = [t for t in self.timers if t[0] <= now]
            self.timers = [t for t in self.timers if t[0] > now]
            for _, fn in sorted(due, key=lambda t: t[0]):
                fn()
            timeout = 1.0
            if self.timers:
                timeout = max(0.0, min(t[0] for t in self.timers) - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if ready:
                for m in self.read_messages(block=False):
                    self.handle(m)

    # ---------------------------------------------------------------- messages

    def handle(self, m):
        mtype, vid, seq = HEADER.unpack_from(m)
        if mtype == MSG_VOLUME:
            sectors, cow_sectors, chunk_sectors, base, cow, _, ident = VOLUME_BODY.unpack_from(m, HEADER.size)
            ident = ident.split(b"\0")[0].decode()
            self.log("VOLUME vol=%d ident=%s sectors=%d cow_sectors=%d chunk_sectors=%d"
                     % (vid, ident, sectors, cow_sectors, chunk_sectors))
            vol = Volume(vid, ident, sectors, cow_sectors, chunk_sectors)
            saved = self.state.get(ident, {})
            vol.next_sector = saved.get("next_sector") or self.args.first_sector
            for c, s in saved.get("committed", {}).items():
                vol.placed[int(c)] = s
                vol.committed.add(int(c))
            self.volumes[vid] = vol
            return
        if mtype == MSG_VOLUME_GONE:
            self.log("VOLUME_GONE vol=%d" % vid)
            self.volumes.pop(vid, None)
            return
        if mtype == MSG_REPLAY_DONE:
            self.log("REPLAY_DONE")
            self.replay_done = True
            self.after_replay()
            return
        vol = self.volumes.get(vid)
        if mtype == MSG_FLUSH:
            self.log("FLUSH vol=%d seq=%d" % (vid, seq))
            if self.args.commit == "flush":
                self.commit_upto(vol, seq)
            return
        if mtype in (MSG_GRANT_LIVE, MSG_REVOKED, MSG_GRANT_LOW):
            first, cow_sector, count, fill, used = GRANT_BODY.unpack_from(m, HEADER.size)
            if mtype == MSG_GRANT_LOW:
                self.log("GRANT_LOW vol=%d free=%d" % (vid, count))
            else:
                self.log("%s vol=%d id=%d first=%d count=%d cow=%d fill=%s used=%s"
                         % (NAMES[mtype], vid, seq, first, count, cow_sector, FILL_NAMES.get(fill, fill),
                            used_slots(used)))
            return
        chunk, cow_sector, fill, flags, err, grant = CHUNK.unpack_from(m, HEADER.size)
        if mtype == MSG_FAULT:
            self.log("FAULT vol=%d chunk=%d seq=%d flags=%d" % (vid, chunk, seq, flags))
            self.on_fault(vol, chunk, seq, flags)
        elif mtype in (MSG_GRANTED, MSG_FILLED):
            self.log("%s vol=%d chunk=%d seq=%d cow=%d%s" % (NAMES[mtype], vid, chunk, seq, cow_sector,
                                                           " grant=%d" % grant if grant else ""))
            vol.placed[chunk] = cow_sector
            vol.committed.discard(chunk)
            vol.next_sector = max(vol.next_sector, cow_sector + vol.chunk_sectors)
            if mtype == MSG_FILLED:
                vol.filled[chunk] = seq
                if self.args.commit == "filled":
                    self.at(self.args.commit_delay, lambda: self.commit(vol, chunk))
        elif mtype == MSG_DISCARD:
            self.log("DISCARD vol=%d chunk=%d" % (vid, chunk))
            vol.placed.pop(chunk, None)
            vol.committed.discard(chunk)
            self.save_state()
            if self.args.forget_discarded:
                err = self.try_send(chunk_msg(MSG_FORGET, vol.id, 0, chunk))
                self.log("FORGET-RESULT %s chunk=%d %s" % (vol.ident, chunk,
                                                          errno.errorcode.get(err, err) if err else "ok"))
        else:
            self.log("UNKNOWN type=%d vol=%d" % (mtype, vid))

    def on_fault(self, vol, chunk, seq, flags):
        self.faults_seen += 1
        if self.args.exit_after_faults and self.faults_seen >= self.args.exit_after_faults:
            self.log("EXIT after %d faults, leaving them unanswered" % self.faults_seen)
            os._exit(0)
        if self.args.hold_faults:
            return
        if self.args.garbage and self.held_fault is None:
            self.held_fault = (vol, chunk, seq, flags)
            self.garbage(vol, chunk, seq, flags)
            return
        if chunk in self.args.fail_chunks:
            err = self.args.fail_errno
            self.at(self.args.map_delay, lambda: self.send(
                chunk_msg(MSG_FAIL, vol.id, seq, chunk, error=err),
                "FAIL vol=%d chunk=%d seq=%d error=%d" % (vol.id, chunk, seq, err)))
            return
        self.at(self.args.map_delay, lambda: self.map(vol, chunk, seq, flags))

    def place(self, vol, chunk):
        sector = vol.next_sector
        vol.next_sector += vol.chunk_sectors
        vol.placed[chunk] = sector
        return sector

    def map(self, vol, chunk, seq, flags):
        sector = self.place(vol, chunk)
        if chunk in self.args.zero_chunks:
            fill = FILL_ZERO
        elif self.args.fill == "auto":
            fill = FILL_NONE if flags & FAULT_FULL_WRITE else FILL_COPY
        else:
            fill = {"copy": FILL_COPY, "zero": FILL_ZERO}[self.args.fill]
        self.send(chunk_msg(MSG_MAP, vol.id, seq, chunk, sector, fill),
                  "MAP vol=%d chunk=%d seq=%d cow=%d fill=%s" % (vol.id, chunk, seq, sector, FILL_NAMES[fill]))
        self.maps_sent += 1
        if self.args.exit_after_maps and self.maps_sent >= self.args.exit_after_maps:
            self.log("EXIT after %d maps" % self.maps_sent)
            os._exit(0)

    def commit(self, vol, chunk):
        if chunk not in vol.filled:
            return
        del vol.filled[chunk]
        vol.committed.add(chunk)
        self.save_state()
        self.send(chunk_msg(MSG_COMMITTED, vol.id, 0, chunk), "COMMITTED vol=%d chunk=%d" % (vol.id, chunk))

    def commit_upto(self, vol, seq):
        chunks = [c for c, s in vol.filled.items() if s <= seq]
        for c in chunks:
            self.at(self.args.commit_delay, lambda c=c: self.commit(vol, c))

    def send_grant(self, spec):
        """IDENT:ID:FIRST:COUNT[:COW[:FILL]]: COW defaults to the next free placement."""
        f = spec.split(":")
        vol = next(v for v in self.volumes.values() if v.ident == f[0])
        gid, first, count = int(f[1]), int(f[2]), int(f[3])
        auto = len(f) < 5 or f[4] == "auto"
        cow = vol.next_sector if auto else int(f[4])
        fill = {"copy": FILL_COPY, "zero": FILL_ZERO, "none": FILL_NONE}[f[5] if len(f) > 5 else "copy"]
        err = self.try_send(grant_msg(MSG_GRANT, vol.id, gid, first, count, cow, fill))
        if not err and auto:
            vol.next_sector += count * vol.chunk_sectors
            self.save_state()
        self.log("GRANT-RESULT %s id=%d first=%d count=%d cow=%d %s"
                 % (f[0], gid, first, count, cow, errno.errorcode.get(err, err) if err else "ok"))

    def send_revoke(self, spec):
        ident, gid = spec.split(":")
        vol = next(v for v in self.volumes.values() if v.ident == ident)
        err = self.try_send(grant_msg(MSG_REVOKE, vol.id, int(gid)))
        self.log("REVOKE-RESULT %s id=%s %s" % (ident, gid, errno.errorcode.get(err, err) if err else "ok"))

    def after_replay(self):
        for spec in self.args.revoke:
            self.send_revoke(spec)
        for spec in self.args.grant:
            self.send_grant(spec)
        for spec in self.args.forget:
            ident, chunks = spec.split(":")
            vol = next(v for v in self.volumes.values() if v.ident == ident)
            for c in [int(x) for x in chunks.split(",")]:
                err = self.try_send(chunk_msg(MSG_FORGET, vol.id, 0, c))
                self.log("FORGET-RESULT %s chunk=%d %s" % (ident, c, errno.errorcode.get(err, err) if err else "ok"))
                if not err:
                    vol.committed.discard(c)
        if self.args.commit == "flush":
            # A new daemon commits what the replay handed over, as dmcowd's timer would.
            for vol in self.volumes.values():
                self.commit_upto(vol, max(vol.filled.values(), default=0))
        if self.args.ready:
            with open(self.args.ready, "w") as f:
                f.write("ready\n")

    # ---------------------------------------------------------------- garbage

    def garbage(self, vol, chunk, seq, flags):
        """Send every kind of bad reply while a fault is pending; each must get EINVAL."""
        cs = vol.chunk_sectors
        good_sector = self.place(vol, chunk)
        free_chunk = next(c for c in range(vol.nr_chunks) if c != chunk and c not in vol.placed)
        cases = [
            ("short-write", hello_msg()[:100]),
            ("oversized-write", chunk_msg(MSG_COMMITTED, vol.id, 0, chunk) * (MAX_WRITE_MSGS + 1)),
            ("unknown-type", chunk_msg(99, vol.id, seq, chunk)),
            ("kernel-only-type", chunk_msg(MSG_FAULT, vol.id, seq, chunk)),
            ("hello-again", hello_msg()),
            ("unknown-volume", chunk_msg(MSG_MAP, 999999, seq, chunk, good_sector)),
            ("chunk-out-of-range", chunk_msg(MSG_MAP, vol.id, seq, vol.nr_chunks, good_sector)),
            ("cow-beyond-device", chunk_msg(MSG_MAP, vol.id, seq, chunk, (vol.cow_sectors // cs) * cs)),
            ("cow-far-beyond-device", chunk_msg(MSG_MAP, vol.id, seq, chunk, (1 << 63) - cs)),
            ("cow-unaligned", chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector + 1)),
            ("grant-field", chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector, grant=1)),
            ("payload-tail", chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector)[:-1] + b"\x01"),
            ("map-flags", chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector, flags=1)),
            ("unknown-fill", chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector, fill=7)),
            ("wrong-seq", chunk_msg(MSG_MAP, vol.id, seq + 100, chunk, good_sector)),
            ("unsolicited-map", chunk_msg(MSG_MAP, vol.id, 1, free_chunk, good_sector)),
            ("fail-errno-zero", chunk_msg(MSG_FAIL, vol.id, seq, chunk, error=0)),
            ("fail-errno-huge", chunk_msg(MSG_FAIL, vol.id, seq, chunk, error=100000)),
            ("committed-not-filled", chunk_msg(MSG_COMMITTED, vol.id, 0, chunk)),
            ("committed-unknown-chunk", chunk_msg(MSG_COMMITTED, vol.id, 0, free_chunk)),
            ("forget-not-committed", chunk_msg(MSG_FORGET, vol.id, 0, free_chunk)),
            ("grant-unknown-volume", grant_msg(MSG_GRANT, 999999, 50, free_chunk, 1, good_sector)),
            ("grant-count-zero", grant_msg(MSG_GRANT, vol.id, 50, free_chunk, 0, good_sector)),
            ("grant-count-over-max", grant_msg(MSG_GRANT, vol.id, 50, 0, MAX_GRANT_CHUNKS + 1, 0)),
            ("grant-id-zero", grant_msg(MSG_GRANT, vol.id, 0, free_chunk, 1, good_sector)),
            ("grant-id-over-32-bits", grant_msg(MSG_GRANT, vol.id, 1 << 32, free_chunk, 1, good_sector)),
            ("grant-used-set", grant_msg(MSG_GRANT, vol.id, 50, free_chunk, 1, good_sector, used=b"\x01")),
            ("grant-payload-tail", grant_msg(MSG_GRANT, vol.id, 50, free_chunk, 1, good_sector)[:-1] + b"\x01"),
            ("grant-past-the-volume", grant_msg(MSG_GRANT, vol.id, 50, vol.nr_chunks - 1, 2, good_sector)),
            ("revoke-with-fields", grant_msg(MSG_REVOKE, vol.id, 50, count=1)),
            ("revoke-id-zero", grant_msg(MSG_REVOKE, vol.id, 0)),
        ]
        if not flags & FAULT_FULL_WRITE:
            cases.append(("fill-none-without-full-write",
                          chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector, FILL_NONE)))
        passed = failed = 0
        try:
            os.read(self.fd, MSG_SIZE // 2)
            err = 0
        except OSError as e:
            err = e.errno
        if err == errno.EINVAL:
            passed += 1
            self.log("GARBAGE read-smaller-than-a-message EINVAL ok")
        else:
            failed += 1
            self.log("GARBAGE read-smaller-than-a-message UNEXPECTED %s" % (errno.errorcode.get(err, err) if err else "accepted"))
        for name, msg in cases:
            err = self.try_send(msg)
            if err == errno.EINVAL:
                passed += 1
                self.log("GARBAGE %s EINVAL ok" % name)
            else:
                failed += 1
                self.log("GARBAGE %s UNEXPECTED %s" % (name, errno.errorcode.get(err, err) if err else "accepted"))
        # A batch whose second message is bad: the first takes effect, the write reports EINVAL.
        batch = chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector, FILL_COPY) + chunk_msg(99, vol.id, 0, 0)
        err = self.try_send(batch)
        self.log("-> MAP vol=%d chunk=%d seq=%d cow=%d fill=copy (batched with garbage)" % (vol.id, chunk, seq, good_sector))
        if err == errno.EINVAL:
            passed += 1
            self.log("GARBAGE batch-with-bad-second EINVAL ok")
        else:
            failed += 1
            self.log("GARBAGE batch-with-bad-second UNEXPECTED %s" % (errno.errorcode.get(err, err) if err else "accepted"))
        err = self.try_send(chunk_msg(MSG_MAP, vol.id, seq, chunk, good_sector, FILL_COPY))
        if err == errno.EINVAL:
            passed += 1
            self.log("GARBAGE duplicate-map EINVAL ok")
        else:
            failed += 1
            self.log("GARBAGE duplicate-map UNEXPECTED %s" % (errno.errorcode.get(err, err) if err else "accepted"))
        self.log("GARBAGE-DONE passed=%d failed=%d" % (passed, failed))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="/dev/dm-cow")
    p.add_argument("--log", help="append the message log here instead of stdout")
    p.add_argument("--ready", help="create this file once the replay is done")
    p.add_argument("--state", help="JSON file keeping placements across restarts")
    p.add_argument("--first-sector", type=int, default=0, help="first CoW sector to place chunks at")
    p.add_argument("--fill", choices=["auto", "copy", "zero"], default="auto",
                   help="auto: none for full-chunk writes, else copy")
    p.add_argument("--commit", choices=["flush", "filled", "never"], default="flush",
                   help="commit on FLUSH (and after a replay), on each FILLED, or never")
    p.add_argument("--commit-delay", type=float, default=0.0, help="seconds before each commit")
    p.add_argument("--map-delay", type=float, default=0.0, help="seconds before answering a fault")
    p.add_argument("--hold-faults", action="store_true", help="never answer faults")
    p.add_argument("--exit-after-faults", type=int, default=0,
                   help="exit after reading this many faults, leaving them unanswered")
    p.add_argument("--exit-after-maps", type=int, default=0,
                   help="exit right after sending this many MAPs, with their fills not done")
    p.add_argument("--fail-chunks", type=lambda s: {int(x) for x in s.split(",")}, default=set(),
                   help="answer faults on these chunks with FAIL")
    p.add_argument("--fail-errno", type=int, default=errno.EIO, help="the errno FAIL carries")
    p.add_argument("--zero-chunks", type=lambda s: {int(x) for x in s.split(",")}, default=set(),
                   help="map these chunks with FILL_ZERO")
    p.add_argument("--forget", action="append", default=[], metavar="IDENT:C1,C2",
                   help="after the replay, send FORGET for these chunks and log each result")
    p.add_argument("--grant", action="append", default=[], metavar="IDENT:ID:FIRST:COUNT[:COW[:FILL]]",
                   help="after the replay (and --revoke), send GRANT (COW: a sector, or auto, the next free "
                        "placement; FILL copy, zero or none) and log the result")
    p.add_argument("--revoke", action="append", default=[], metavar="IDENT:ID",
                   help="after the replay, send REVOKE for grant ID and log the result")
    p.add_argument("--forget-discarded", action="store_true",
                   help="answer each DISCARD with FORGET at once (right only for a chunk a cow segment serves)")
    p.add_argument("--garbage", action="store_true",
                   help="answer the first fault only after sending every kind of bad reply")
    p.add_argument("--hello-version", type=int, default=PROTOCOL_VERSION,
                   help="say this version; any other than %d expects EPROTO and exits" % PROTOCOL_VERSION)
    p.add_argument("--bad-reads", type=int, default=0,
                   help="do this many reads into unwritable memory first, alternately whole and "
                        "partial (the first message fits), each when a message is waiting")
    p.add_argument("--check-busy", action="store_true", help="check that a second open gets EBUSY")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Responder(args).run()


if __name__ == "__main__":
    main()
