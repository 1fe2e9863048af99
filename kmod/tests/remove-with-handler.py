#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Remove a device-mapper device with the DM_DEV_REMOVE ioctl from a process that handles
SIGUSR1: the signal then reaches the task while it waits in the kernel (an ignored signal is
never delivered, and dmsetup would die of it). Prints the signals handled and the seconds taken.

usage: remove-with-handler.py NAME
"""
import fcntl
import signal
import struct
import sys
import time

DM_IOCTL = struct.Struct("<3IIIIiIIIQ128s129s7s")    # struct dm_ioctl, 312 bytes
DM_DEV_REMOVE = (3 << 30) | (DM_IOCTL.size << 16) | (0xfd << 8) | 4

handled = 0


def on_usr1(*_):
    global handled
    handled += 1


signal.signal(signal.SIGUSR1, on_usr1)
name = sys.argv[1].encode()
buf = bytearray(DM_IOCTL.pack(4, 0, 0, DM_IOCTL.size, DM_IOCTL.size, 0, 0, 0, 0, 0, 0, name, b"", b""))
start = time.monotonic()
with open("/dev/mapper/control", "rb") as ctl:
    fcntl.ioctl(ctl, DM_DEV_REMOVE, buf, True)
print("removed %s in %.1f s, SIGUSR1 handled %d times" % (sys.argv[1], time.monotonic() - start, handled),
      flush=True)
