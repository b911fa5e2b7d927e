"""The libfuse side: ``MountTree`` answered through mfusepy's Operations.

Imported only by ``crabview mount`` (it loads libfuse via mfusepy).
mfusepy is the maintained fork of fusepy: pure ctypes (nothing to
compile), speaks the libfuse 3 high-level API, and is on PyPI. It passes
us the ``fuse_file_info`` (``raw_fi``), which lets ``open`` tell the
kernel to keep its page cache when a file has not changed since it was
last opened, so a warm ``grep -r`` is mostly served by the kernel.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from typing import Any, Callable

import mfusepy as fuse

from .streamed import SnapshotLost, StreamedFile
from .tree import DIR, FILE, LINK, RAW, MountTree, Node

LAST_TTL = 0.02  # seconds a getattr answer is reused by the open that follows it
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND | os.O_CREAT
_MODES = {DIR: stat.S_IFDIR | 0o555, FILE: stat.S_IFREG | 0o444, RAW: stat.S_IFREG | 0o444, LINK: stat.S_IFLNK | 0o777}


def _erofs(*_args: Any, **_kw: Any) -> int:
    raise fuse.FuseOSError(errno.EROFS)


class CrabFS(fuse.Operations):
    """Read-only operations over a MountTree."""

    use_ns = True

    def __init__(self, tree: MountTree, on_ready: Callable[[], None] | None = None):
        self.tree = tree
        self.on_ready = on_ready
        self.initialized = False
        self.uid = os.getuid()
        self.gid = os.getgid()
        self._lock = threading.Lock()
        self._handles: dict[int, tuple[str, str, Any]] = {}
        self._next_fh = 1
        self._last_open: dict[str, Any] = {}  # path -> content (or stat key) at its last open
        self._last: tuple[str, Node, float] | None = None
        self._reported: dict[str, int] = {}  # path -> the size the kernel was last told

    # -- lifecycle ----------------------------------------------------------------

    def init(self, path: str) -> None:
        self.initialized = True
        if self.on_ready is not None:
            self.on_ready()

    def destroy(self, path: str) -> None:
        with self._lock:
            for kind, _p, fd in self._handles.values():
                if kind == RAW:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._handles.clear()

    # -- metadata -------------------------------------------------------------------

    def _node(self, path: str) -> Node:
        # open() right after getattr() of the same path (what every `cat` and
        # `grep` does) reuses that answer instead of resolving it again.
        last = self._last
        if last is not None and last[0] == path and time.monotonic() - last[2] < LAST_TTL:
            return last[1]
        node = self.tree.lookup(path)
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        self._last = (path, node, time.monotonic())
        return node

    def _attrs(self, node: Node) -> dict[str, Any]:
        if node.kind == LINK:
            size = len((node.target or "").encode("utf-8", "surrogateescape"))
        else:
            size = node.size
        t = node.mtime_ns
        return {
            "st_mode": _MODES[node.kind],
            "st_nlink": 2 if node.kind == DIR else 1,
            "st_size": size,
            "st_uid": self.uid,
            "st_gid": self.gid,
            "st_atime": t,
            "st_mtime": t,
            "st_ctime": t,
            "st_blocks": (size + 511) // 512,
            "st_blksize": 4096,
        }

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        node = self._node(path)
        if node.kind == FILE:
            self._reported[path] = node.size
        return self._attrs(node)

    def readdir(self, path: str, fh: Any) -> list[Any]:
        entries = self.tree.listdir(path)
        if entries is None:
            node = self.tree.lookup(path)
            raise fuse.FuseOSError(errno.ENOENT if node is None else errno.ENOTDIR)
        out: list[Any] = [".", ".."]
        out.extend((name, {"st_mode": _MODES[kind]}, 0) for name, kind in entries)
        return out

    def readlink(self, path: str) -> str:
        node = self._node(path)
        if node.kind != LINK:
            raise fuse.FuseOSError(errno.EINVAL)
        return node.target or ""

    def access(self, path: str, amode: int) -> int:
        self._node(path)
        if amode & os.W_OK:
            raise fuse.FuseOSError(errno.EROFS)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        return {
            "f_bsize": 4096,
            "f_frsize": 4096,
            "f_blocks": 0,
            "f_bfree": 0,
            "f_bavail": 0,
            "f_files": len(self.tree.sessions),
            "f_ffree": 0,
            "f_favail": 0,
            "f_namemax": 255,
        }

    # -- reading ----------------------------------------------------------------------

    def open(self, path: str, fi: Any) -> int:
        if fi.flags & _WRITE_FLAGS:
            raise fuse.FuseOSError(errno.EROFS)
        node = self._node(path)
        if node.kind == DIR:
            raise fuse.FuseOSError(errno.EISDIR)
        if node.kind == RAW:
            try:
                fd = os.open(node.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # type: ignore[arg-type]
            except OSError as e:
                raise fuse.FuseOSError(e.errno or errno.EIO) from None
            version: Any = node.key
            handle: tuple[str, str, Any] = (RAW, path, fd)
        else:
            # a StreamedFile is compared by its content key, not kept: the
            # handle keeps its snapshot alive, this map must not
            version = node.stream.content_key if node.stream is not None else node.data
            handle = (FILE, path, node.stream if node.stream is not None else node.data)
            if self._reported.get(path, node.size) != node.size:
                # The kernel still holds an older size (attr_timeout) and
                # would cut reads there: bypass its page cache this once.
                fi.direct_io = 1
        with self._lock:
            fh = self._next_fh
            self._next_fh += 1
            self._handles[fh] = handle
            # Same content as at the last open: the kernel's cached pages are right.
            fi.keep_cache = 1 if self._last_open.get(path) == version else 0
            self._last_open[path] = version
        fi.fh = fh
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        h = self._handles.get(fi.fh)
        if h is None:
            raise fuse.FuseOSError(errno.EBADF)
        kind, p, obj = h
        if kind == RAW:
            try:
                return os.pread(obj, size, offset)
            except OSError as e:
                raise fuse.FuseOSError(e.errno or errno.EIO) from None
        # One consistent snapshot per open handle (rendered at open), so a
        # reader never sees a file torn between two versions. The one
        # exception keeps `tail -f` working: a newer version that extends
        # the snapshot (append-only growth, as transcript.md grows) is
        # adopted, since every byte already read is still true of it. Only
        # a read past the snapshot's end asks: reads inside it never touch
        # the tree (no lookup, no lock, no rendering per chunk).
        if isinstance(obj, StreamedFile):
            return self._read_streamed(fi.fh, p, obj, size, offset)
        if offset + size > len(obj):
            node = self.tree.lookup(p)
            new = node.data if node is not None else None
            if new is not None and new is not obj and len(new) > len(obj) and new.startswith(obj):
                with self._lock:
                    self._handles[fi.fh] = (kind, p, new)
                obj = new
        return obj[offset : offset + size]

    def _read_streamed(self, fh: int, path: str, obj: StreamedFile, size: int, offset: int) -> bytes:
        """``read`` of a StreamedFile: the same snapshot rule, the extension
        test done on CRCs (``StreamedFile.extends``) instead of bytes."""
        if offset + size > obj.size:
            node = self.tree.lookup(path)
            new = node.stream if node is not None else None
            if new is not None and new is not obj and new.extends(obj):
                with self._lock:
                    self._handles[fh] = (FILE, path, new)
                obj = new
        try:
            return obj.read(offset, size)
        except SnapshotLost:
            raise fuse.FuseOSError(errno.EIO) from None

    def release(self, path: str, fi: Any) -> int:
        with self._lock:
            h = self._handles.pop(fi.fh, None)
        if h is not None and h[0] == RAW:
            try:
                os.close(h[2])
            except OSError:
                pass
        return 0

    # -- everything that would write ---------------------------------------------------------

    create = _erofs
    write = _erofs
    truncate = _erofs
    mkdir = _erofs
    rmdir = _erofs
    unlink = _erofs
    rename = _erofs
    symlink = _erofs
    link = _erofs
    mknod = _erofs
    chmod = _erofs
    chown = _erofs
    utimens = _erofs
    setxattr = _erofs
    removexattr = _erofs
    fallocate = _erofs
