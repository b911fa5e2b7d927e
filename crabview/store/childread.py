"""A child process that reads a directory's files in order and streams their bytes back.

A big load's cost is mostly the kernel's part of ``open``/``read``/``close``
per file. Threads cannot share it out: every one of those calls hands the
GIL over, and on two cores the hand-overs eat the gain. A second process
has no GIL: it reads the step files from the front of the load order while
the loading process reads from the back and decodes both, until the two
meet (``session._load_steps``). Whoever is faster simply does more, so a
busy machine costs nothing beyond the child's start (a few ms).

The child only opens files read-only, relative to the directory fd it is
handed, with the same flags and first-read size as the in-process path; a
file it cannot read plainly (open or read error, empty, as big as the first
read) comes back as "read it yourself", and the caller takes the careful
path. Nothing here decides a verdict: the bytes are the file's bytes.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading

# Record: 4-byte little-endian length, then that many bytes; NEED_CAREFUL
# instead of a length means "read this one yourself".
NEED_CAREFUL = 0xFFFFFFFF
_PIPE_SIZE = 1 << 20  # Linux's default limit for an unprivileged process
_CHILD = r"""
import os, sys
dfd, chunk, flags = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
names = sys.stdin.buffer.read().split(b"\0")
o, r, c = os.open, os.read, os.close
out = []
add = out.append
w = sys.stdout.buffer.write
careful = (0xFFFFFFFF).to_bytes(4, "little")
for n in names:
    try:
        fd = o(n, flags, dir_fd=dfd)
    except OSError:
        add(careful)
        continue
    try:
        data = r(fd, chunk)
    except OSError:
        data = b""
    c(fd)
    k = len(data)
    if k and k != chunk:
        add(k.to_bytes(4, "little"))
        add(data)
    else:
        add(careful)
    if len(out) >= 512:
        w(b"".join(out))
        out.clear()
w(b"".join(out))
sys.stdout.buffer.flush()
"""


class ChildReader:
    """Reads ``names`` (relative to ``dfd``) in a child process; ``poll`` collects what has arrived."""

    def __init__(self, proc: subprocess.Popen, names_blob: bytes):
        self.proc = proc
        self.fd = proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self.fd, False)
        try:  # a roomy pipe: the child seldom waits for us, so fewer wake-ups and switches
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except (AttributeError, OSError):
            pass
        self.buf = b""
        self.eof = False
        # The names go in from a thread: the child reads them all before it
        # starts, and a pipe holds only 64 KiB, so writing here would stall
        # the loader until the child is up.
        self.feeder = threading.Thread(target=self._feed, args=(names_blob,), name="crabview-childread", daemon=True)
        self.feeder.start()

    @classmethod
    def start(cls, dfd: int, names: list[str], flags: int, chunk: int) -> "ChildReader | None":
        """A running reader, or None when no child can be started (then read in-process)."""
        exe = sys.executable
        if not exe:
            return None
        try:
            blob = "\0".join(names).encode("utf-8", "surrogateescape")
            proc = subprocess.Popen(
                [exe, "-S", "-I", "-c", _CHILD, str(dfd), str(chunk), str(flags)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(dfd,),
                bufsize=0,
            )
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
        return cls(proc, blob)

    def _feed(self, blob: bytes) -> None:
        stdin = self.proc.stdin
        try:
            stdin.write(blob)  # type: ignore[union-attr]
        except OSError:
            pass  # the child is gone: the loader reads the rest itself
        finally:
            try:
                stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass

    def poll(self, limit: int | None = None) -> list[bytes | None]:
        """The files whose bytes arrived since the last call, in order (None: read it yourself).

        Never blocks. An empty list means nothing new (or the child is done: see
        ``eof``). ``limit``: take about that many bytes at most (a consumer
        slower than the child keeps the rest in the pipe, not in memory).
        """
        if self.eof:
            return []
        parts = [self.buf] if self.buf else []
        taken = 0
        while limit is None or taken < limit:
            try:
                more = os.read(self.fd, (1 << 20) if limit is None else min(1 << 20, limit - taken))
            except BlockingIOError:
                break
            except OSError:
                more = b""
            if not more:
                self.eof = True
                break
            parts.append(more)
            taken += len(more)
        if not parts:
            return []
        buf = parts[0] if len(parts) == 1 else b"".join(parts)
        out: list[bytes | None] = []
        add = out.append
        pos, end = 0, len(buf)
        careful = NEED_CAREFUL
        from_bytes = int.from_bytes
        while pos + 4 <= end:
            k = from_bytes(buf[pos : pos + 4], "little")
            if k == careful:
                add(None)
                pos += 4
                continue
            stop = pos + 4 + k
            if stop > end:
                break
            add(buf[pos + 4 : stop])
            pos = stop
        self.buf = buf[pos:]
        return out

    def close(self) -> None:
        """Stop the child (it may still be reading names the loader has done itself)."""
        proc = self.proc
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
        try:
            proc.stdout.close()  # type: ignore[union-attr]
        except OSError:
            pass
        proc.wait()
        self.feeder.join()
