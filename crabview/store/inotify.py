"""Linux inotify, one non-recursive watch at a time (inotify_simple underneath).

Why not watchfiles here: it takes its paths once, at start, and adds
watches for new subdirectories on its own (recursively, following
symlinks), and a watch it cannot add is either fatal for all of them or
silently skipped. The store watcher needs the opposite: one non-recursive
watch per directory it chooses, added and removed as sessions come and go,
and every failure (ENOSPC: the per-user watch limit) known by directory so
that exactly those are polled instead. inotify_simple is the thin,
widely used binding of the three syscalls; this module only adapts it to
the watcher (a non-blocking fd for the event loop, errors that name the
path, a read that never waits).
"""

from __future__ import annotations

import errno
import os
from typing import NamedTuple

try:  # Linux only; elsewhere the watcher polls
    from inotify_simple import INotify as _INotify
    from inotify_simple import flags as _flags
except (ImportError, OSError, AttributeError):  # pragma: no cover - not Linux
    _INotify = None
    _flags = None

# The kernel's event bits (linux/inotify.h), by the names the watcher uses.
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


class RawEvent(NamedTuple):
    wd: int
    mask: int
    name: str  # "" for events on the watched directory itself


class Inotify:
    """One inotify instance: a non-blocking fd, watches added one by one."""

    def __init__(self) -> None:
        if _INotify is None:
            raise OSError(errno.ENOSYS, "inotify unavailable on this system")
        try:
            self._ino = _INotify(nonblocking=True)
        except (OSError, AttributeError) as e:  # no inotify in this kernel or libc
            raise OSError(getattr(e, "errno", None) or errno.ENOSYS, f"inotify unavailable: {e}") from None
        self.fd = self._ino.fileno()

    def add_watch(self, path: str, mask: int) -> int:
        """The watch descriptor; raises OSError naming ``path`` (ENOSPC past the watch limit)."""
        try:
            return self._ino.add_watch(path, mask)
        except OSError as e:
            raise OSError(e.errno, e.strerror or os.strerror(e.errno or 0), path) from None

    def rm_watch(self, wd: int) -> None:
        try:
            self._ino.rm_watch(wd)
        except OSError:  # EINVAL for a watch already gone: nothing to do
            pass

    def read(self) -> list[RawEvent]:
        """Every event queued now (none if nothing is); never waits."""
        try:
            events = self._ino.read(timeout=0)
        except BlockingIOError:
            return []
        return [RawEvent(e.wd, e.mask, e.name) for e in events]

    def close(self) -> None:
        if self.fd >= 0:
            self._ino.close()
            self.fd = -1
