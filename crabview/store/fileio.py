"""Reading store files: whole, never blocking, never writing."""

from __future__ import annotations

import os
import stat

# O_NONBLOCK: opening a FIFO must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 16

MISSING = "does not exist"  # the reason read_file gives for ENOENT


def read_all(fd: int, first: bytes = b"") -> bytes:
    """The rest of an open file after ``first`` (one read covers most files)."""
    data = first or os.read(fd, _CHUNK)
    if len(data) < _CHUNK:
        return data
    chunks = [data]
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def read_file(path: str) -> tuple[bytes | None, str | None]:
    """Read a whole file without ever blocking (FIFOs, devices) or writing.

    Returns (bytes, None) or (None, reason); the reason is ``MISSING`` when
    the file does not exist. Special files are reported rather than read:
    the daemon's own read would block on a FIFO, or never end on a device.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None, MISSING
    except OSError as e:
        return None, f"cannot open: {e.strerror or e}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                return None, "is a directory (the daemon's read fails: Is a directory)"
            kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "special file"
            return None, f"is a {kind}, not a regular file (the daemon's read would block or fail)"
        return read_all(fd), None
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    finally:
        os.close(fd)
