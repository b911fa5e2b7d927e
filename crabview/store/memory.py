"""Read ``memory.db`` (FORMAT.md 6) and resolve archive names."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import msgspec

from .fileio import _READ_FLAGS, MISSING, read_file
from .models import MEMORY_KINDS, MemoryEntry

MAGIC = b"CRMEM\0"
VERSION = 1
HEADER = struct.Struct("<6sIH4s")  # magic, version, flags, 4 reserved zero bytes
MIN_ENTRY = 8 + 8 + 4 + 4 + 4 + 4  # id, created_at, kind, empty name, empty content, no aliases


class MemoryError_(Exception):
    """memory.db cannot be read; message says where and why."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message if self.offset is None else f"{self.message} (at byte {self.offset})"


class Memory(msgspec.Struct):
    """The entries of a memory.db, or why there are none."""

    path: str | None
    status: str  # ok | missing | unreadable
    entries: list[MemoryEntry] = []
    error: str | None = None
    next_id: int = 0
    mtime_ns: int = 0
    size: int = 0
    _index: dict[str, int] | None = None

    def resolve(self, name: str) -> MemoryEntry | None:
        """The entry whose name or one of whose aliases equals ``name``."""
        if self._index is None:
            idx: dict[str, int] = {}
            for i, e in enumerate(self.entries):
                idx.setdefault(e.name, i)
                for a in e.aliases:
                    idx.setdefault(a, i)
            self._index = idx
        i = self._index.get(name)
        return None if i is None else self.entries[i]

    @property
    def archives(self) -> list[MemoryEntry]:
        return [e for e in self.entries if e.kind == "archive"]


def parse_memory(data: bytes) -> tuple[int, list[MemoryEntry]]:
    """Decode memory.db bytes; raises MemoryError_ on any malformation."""
    parse_header(data)
    pos = HEADER.size
    n = len(data)

    def need(k: int, what: str) -> None:
        if pos + k > n:
            raise MemoryError_(f"truncated body: {what} needs {k} bytes, {n - pos} left", pos)

    def u32(what: str) -> int:
        nonlocal pos
        need(4, what)
        (v,) = struct.unpack_from("<I", data, pos)
        pos += 4
        return v

    def u64(what: str) -> int:
        nonlocal pos
        need(8, what)
        (v,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        return v

    def text(what: str) -> str:
        nonlocal pos
        length = u32(f"{what} length")
        need(length, what)
        raw = data[pos : pos + length]
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MemoryError_(f"{what} is not valid UTF-8", pos + e.start) from None
        pos += length
        return s

    next_id = u64("next_id")
    count = u32("entry_count")
    # Every count is checked against the bytes left before anything is
    # allocated for it: an entry takes at least MIN_ENTRY bytes, an alias 4.
    if count * MIN_ENTRY > n - pos:
        raise MemoryError_(
            f"truncated body: entry_count {count:,} needs at least {count * MIN_ENTRY:,} bytes, {n - pos:,} left", pos - 4
        )
    entries: list[MemoryEntry] = []
    for i in range(count):
        start = pos
        eid = u64(f"entry {i} id")
        created = u64(f"entry {i} created_at")
        kind_no = u32(f"entry {i} kind")
        kind = MEMORY_KINDS.get(kind_no)
        if kind is None:
            raise MemoryError_(f"entry {i}: unknown kind {kind_no}", start + 16)
        name = text(f"entry {i} name")
        content = text(f"entry {i} content")
        n_alias = u32(f"entry {i} alias_count")
        if n_alias * 4 > n - pos:
            raise MemoryError_(
                f"truncated body: entry {i} alias_count {n_alias:,} needs at least {n_alias * 4:,} bytes, {n - pos:,} left", pos - 4
            )
        aliases = [text(f"entry {i} alias {j}") for j in range(n_alias)]
        entries.append(MemoryEntry(eid, created, kind, name, content, aliases))
    if pos != n:
        # The daemon's reader stops after entry_count entries; trailing bytes
        # are not an error for it, so they are not one here either.
        pass
    return next_id, entries


def _bad_header(path: str) -> Memory | None:
    """A memory.db whose first 16 bytes already make it unreadable is not
    read further (a sparse 4 GB file of zeros costs one small read)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None  # read_file says why
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        head = os.read(fd, HEADER.size)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        parse_header(head)
    except MemoryError_ as e:
        return Memory(path, "unreadable", error=str(e), mtime_ns=st.st_mtime_ns, size=st.st_size)
    return None


def parse_header(data: bytes) -> None:
    if len(data) < HEADER.size:
        raise MemoryError_(f"truncated header: {len(data)} of {HEADER.size} bytes", len(data))
    magic, version, flags, reserved = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise MemoryError_(f"bad magic {magic!r}, expected {MAGIC!r}", 0)
    if version != VERSION:
        raise MemoryError_(f"unsupported version {version}, expected {VERSION}", 6)
    if flags != 0:
        raise MemoryError_(f"non-zero flags {flags:#06x}", 10)


def load_memory(path: Path | None) -> Memory:
    """Read a memory.db; never raises: a bad file is a status with a reason."""
    if path is None:
        return Memory(None, "missing", error="no crabtalk root known (memory.db not looked for)")
    head_error = _bad_header(str(path))
    if head_error is not None:
        return head_error
    data, reason = read_file(str(path))
    if data is None:
        if reason == MISSING:
            return Memory(str(path), "missing", error="memory.db does not exist")
        return Memory(str(path), "unreadable", error=reason)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = 0
    try:
        next_id, entries = parse_memory(data)
    except MemoryError_ as e:
        return Memory(str(path), "unreadable", error=str(e), mtime_ns=mtime, size=len(data))
    return Memory(str(path), "ok", entries, next_id=next_id, mtime_ns=mtime, size=len(data))


def encode_memory(entries: list[MemoryEntry], next_id: int | None = None) -> bytes:
    """Bytes of a memory.db holding ``entries`` (for the demo writer and tests)."""
    kinds = {v: k for k, v in MEMORY_KINDS.items()}
    out = [HEADER.pack(MAGIC, VERSION, 0, b"\0\0\0\0")]
    nid = next_id if next_id is not None else (max((e.id for e in entries), default=0) + 1)
    out.append(struct.pack("<QI", nid, len(entries)))
    for e in entries:
        out.append(struct.pack("<QQI", e.id, e.created_at, kinds[e.kind]))
        for s in (e.name, e.content):
            b = s.encode("utf-8")
            out.append(struct.pack("<I", len(b)) + b)
        out.append(struct.pack("<I", len(e.aliases)))
        for a in e.aliases:
            b = a.encode("utf-8")
            out.append(struct.pack("<I", len(b)) + b)
    return b"".join(out)


def archive_name(slug: str, n: int) -> str:
    """The n-th archive of a session: ``crab_user_1`` → ``crab-user-1-<n>``."""
    from .layout import sender_slug

    return f"{sender_slug(slug)}-{n}"
