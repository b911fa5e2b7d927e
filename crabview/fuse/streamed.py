"""A mounted file rendered on demand from ``Pieces``, never held whole.

``transcript.md`` and ``replay.jsonl`` grow with their session. Instead of
rendering them into memory on open, a ``StreamedFile`` renders them once
in order to learn their exact size (``st_size`` must be honest), keeping
only checkpoints: every ``spacing`` bytes, the output offset where a piece
starts, the piece's number, and the CRC-32 of everything before it. At
most ``MAX_CHECKPOINTS`` are kept; when there would be more, every other
one is dropped and the spacing doubles, so the index stays bounded
whatever the size. The bytes between two checkpoints are a *segment*.

A read renders the segment(s) it touches from their checkpoint, checks
each against the index (its length and CRC: the pieces are a snapshot, but
a lazy step value is re-read from disk, and a step file rewritten in place
since must not give a torn file; such a segment is refused with EIO), and
keeps recently rendered segments up to ``CACHE_BYTES``. A segment reads
ahead only its own steps' values, so a read anywhere costs about one
segment's rendering, and a sequential reader (``cat``, ``cp``) one
rendering pass in all; the first segments, made by the sizing pass
anyway, are kept for the reader that usually comes next.
"""

from __future__ import annotations

import threading
import zlib
from bisect import bisect_right
from typing import Callable

from ..render.files import to_bytes
from ..render.pieces import Pieces

CHECKPOINT_BYTES = 64 << 10  # first spacing of the checkpoints
MAX_CHECKPOINTS = 2048  # the index never holds more (spacing doubles instead)
CACHE_BYTES = 4 << 20  # rendered bytes kept per file, besides the segment being read


class SnapshotLost(Exception):
    """A segment no longer renders to the bytes it had (a step file changed on disk)."""


class StreamedFile:
    """The bytes of ``pieces`` (encoded by ``encode``), readable at any offset."""

    def __init__(
        self,
        pieces: Pieces,
        encode: Callable[[str], bytes] = to_bytes,
        spacing: int | None = None,
        max_checkpoints: int | None = None,
        cache_bytes: int | None = None,
    ):
        # the module's limits are read here, not bound at import: tests lower them
        self.pieces = pieces
        self.encode = encode
        self.cache_bytes = CACHE_BYTES if cache_bytes is None else cache_bytes
        self.lock = threading.Lock()
        self._cache: list[tuple[int, bytes]] = []  # (offset, bytes of one or more whole segments)
        self._cached = 0
        self.renders = 0  # segments rendered after sizing (for tests)
        self._size(spacing or CHECKPOINT_BYTES, max(2, max_checkpoints or MAX_CHECKPOINTS))

    # -- sizing --------------------------------------------------------------------

    def _size(self, spacing: int, most: int) -> None:
        offs, nums, crcs = [0], [0], [0]
        off = crc = 0
        seg: list[bytes] | None = []  # the segment being sized, while the first ones fit the cache
        seg_start = 0
        encode = self.encode
        k = 0
        for k, text in enumerate(self.pieces.iter_from(0), 1):
            b = encode(text)
            off += len(b)
            crc = zlib.crc32(b, crc)
            if seg is not None:
                seg.append(b)
            if off - offs[-1] >= spacing:
                if seg is not None:
                    self._keep(seg_start, seg)
                    seg, seg_start = ([] if self._cached < self.cache_bytes else None), off
                offs.append(off)
                nums.append(k)
                crcs.append(crc)
                if len(offs) > most:  # thin out: every other checkpoint goes
                    offs, nums, crcs = offs[::2], nums[::2], crcs[::2]
                    spacing *= 2
        if offs[-1] != off or len(offs) == 1:
            if seg:
                self._keep(seg_start, seg)
            offs.append(off)
            nums.append(k)
            crcs.append(crc)
        self.offsets, self.numbers, self.crcs = offs, nums, crcs
        self.size = off
        self.crc = crc

    def _keep(self, start: int, parts: list[bytes]) -> None:
        """Cache a segment made by the sizing pass (the first ones: a reader
        usually starts there next)."""
        data = b"".join(parts)
        if data and self._cached + len(data) <= self.cache_bytes:
            self._cache.append((start, data))
            self._cached += len(data)

    @property
    def content_key(self) -> tuple[int, int]:
        """Equal for two files with the same bytes (size and CRC-32)."""
        return (self.size, self.crc)

    @property
    def cached_bytes(self) -> int:
        """Rendered bytes this file holds right now (bounded: see ``CACHE_BYTES``)."""
        return self._cached

    # -- reading -------------------------------------------------------------------

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (raises SnapshotLost, see the module)."""
        end = min(offset + size, self.size)
        if offset < 0 or offset >= end:
            return b""
        with self.lock:
            out = []
            pos = offset
            while pos < end:
                start, data = self._chunk_at(pos)
                out.append(data[pos - start : end - start])
                pos = start + len(data)
            return out[0] if len(out) == 1 else b"".join(out)

    def _chunk_at(self, pos: int) -> tuple[int, bytes]:
        for start, data in self._cache:
            if start <= pos < start + len(data):
                return start, data
        j = bisect_right(self.offsets, pos) - 1
        data = self._render(j)
        self._cache.append((self.offsets[j], data))
        self._cached += len(data)
        while len(self._cache) > 1 and self._cached > self.cache_bytes:
            self._cached -= len(self._cache.pop(0)[1])  # the oldest goes first
        return self.offsets[j], data

    def _render(self, j: int) -> bytes:
        start, end = self.offsets[j], self.offsets[j + 1]
        encode = self.encode
        data = b"".join(encode(text) for text in self.pieces.iter_from(self.numbers[j], self.numbers[j + 1]))
        self.renders += 1
        if len(data) != end - start or zlib.crc32(data, self.crcs[j]) != self.crcs[j + 1]:
            raise SnapshotLost(f"bytes {start}-{end} no longer render as they did")
        return data

    def extends(self, old: "StreamedFile") -> bool:
        """Whether this file is ``old`` with bytes appended (``tail -f``)."""
        if self.size <= old.size:
            return False
        j = bisect_right(self.offsets, old.size) - 1
        start = self.offsets[j]
        if start == old.size:
            return self.crcs[j] == old.crc
        try:
            with self.lock:
                begin, data = self._chunk_at(start)
        except SnapshotLost:
            return False
        return zlib.crc32(data[start - begin : old.size - begin], self.crcs[j]) == old.crc
