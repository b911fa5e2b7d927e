"""Reading store files: whole, never blocking, never writing."""

from __future__ import annotations

import os
import stat

# O_NONBLOCK: opening a FIFO must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 16

MISSING = "does not exist"  # the reason read_file gives for ENOENT


def read_all(fd: int, first: bytes = b"") -> bytes:
    """The rest of an open regular file after ``first`` (one read covers most files).

    Peak memory is the file's size plus a constant: past the first chunk,
    the whole file is read again from offset 0 with one ``pread`` sized
    from fstat (joining chunks would hold every byte twice). A file that
    grew meanwhile, or one past a single read's 2 GB limit, is finished
    in place in a bytearray (``readinto``), which is returned as is (it is
    bytes-like for every reader here) rather than copied.
    """
    data = first or os.read(fd, _CHUNK)
    if len(data) < _CHUNK:
        return data
    try:
        size = os.fstat(fd).st_size
    except OSError:
        size = 0
    want = max(size, len(data)) + 1  # one spare byte: a full read means it grew
    whole = os.pread(fd, want, 0)
    if len(whole) < want and len(whole) < _MAX_READ:
        return whole  # short read of a regular file: its end
    buf = bytearray(whole)
    del whole
    pos = len(buf)
    with open(fd, "rb", buffering=0, closefd=False) as f:
        f.seek(pos)
        while True:
            room = max(min(pos, 1 << 26), _CHUNK)
            buf.extend(bytes(room))
            with memoryview(buf) as view:
                n = f.readinto(view[pos:])
            if not n:
                break
            pos += n
            del buf[pos:]
    del buf[pos:]
    return buf  # type: ignore[return-value]


# Linux returns at most 0x7ffff000 bytes from one read.
_MAX_READ = 0x7FFFF000


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
