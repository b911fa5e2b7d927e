"""A minimal Linux inotify binding (ctypes over libc), one watch at a time.

Why not watchfiles here: it takes its paths once, at start, and adds
watches for new subdirectories on its own (recursively, following
symlinks), and a watch it cannot add is either fatal for all of them or
silently skipped. The store watcher needs the opposite: one non-recursive
watch per directory it chooses, added and removed as sessions come and go,
and every failure (ENOSPC: the per-user watch limit) known by directory so
that exactly those are polled instead.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import NamedTuple

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


class RawEvent(NamedTuple):
    wd: int
    mask: int
    name: str  # "" for events on the watched directory itself


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.inotify_init1.argtypes = [ctypes.c_int]
        lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        _libc = lib
    return _libc


class Inotify:
    """One inotify instance: a non-blocking fd, watches added one by one."""

    def __init__(self) -> None:
        try:
            lib = _lib()
            fd = lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError) as e:  # not Linux, no libc symbol
            raise OSError(errno.ENOSYS, f"inotify unavailable: {e}") from None
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fd = fd

    def add_watch(self, path: str, mask: int) -> int:
        """The watch descriptor; raises OSError (ENOSPC past the watch limit)."""
        wd = _lib().inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        return wd

    def rm_watch(self, wd: int) -> None:
        _lib().inotify_rm_watch(self.fd, wd)  # EINVAL for a watch already gone: nothing to do

    def read(self) -> list[RawEvent]:
        """Every event queued now (none if nothing is)."""
        out: list[RawEvent] = []
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return out
            if not data:
                return out
            pos, end = 0, len(data)
            unpack = _HEADER.unpack_from
            while pos + 16 <= end:
                wd, mask, _cookie, n = unpack(data, pos)
                raw = data[pos + 16 : pos + 16 + n].rstrip(b"\0")
                out.append(RawEvent(wd, mask, os.fsdecode(raw)))
                pos += 16 + n

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
