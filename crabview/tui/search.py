"""Search over step contents: the raw bytes first, decode only the candidates.

A step matches when the query occurs in its file name or in one of the
string values of its JSON (the full content, not a summary), case
insensitively; a file that does not decode (unparsable) is matched as
its text. The bytes of a file are searched for the query as the daemon
writes it (JSON-escaped, raw UTF-8), which no non-matching file can
contain, so only the files that do (or that use escapes the daemon does
not write, ``\\u`` and ``\\/``) are decoded and checked exactly.

A query written ``re:PATTERN`` is a Python regular expression. A regex
may match characters a file holds escaped, so every file with a
backslash is a candidate too: regex searches decode more.

Nothing here imports Textual: the app runs these functions in exclusive
thread workers and passes ``cancelled``/``progress`` callbacks.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import msgspec

from ..store.fileio import read_file

REGEX_PREFIX = "re:"
MAX_NODES = 200_000  # JSON values walked per file at most (a hostile file is bounded)
CACHE_CAP = 256 << 20  # bytes of raw step files kept per session for repeated searches
SNIPPET = 60


class QueryError(ValueError):
    """A query that cannot be compiled (a bad regex)."""


@dataclass(frozen=True)
class Query:
    text: str  # as typed
    regex: bool
    pattern: "re.Pattern[str]"  # checks decoded strings
    raw: "re.Pattern[bytes]"  # finds candidate files

    def may_hide(self, raw: bytes) -> bool:
        """Whether the bytes scan cannot rule ``raw`` out: a match may sit behind an escape.

        Literal: only behind escapes the daemon never writes for text (\\u,
        \\/). Regex: behind any escape, or in non-ASCII text (a bytes regex
        reads UTF-8 byte by byte).
        """
        if self.regex:
            return b"\\" in raw or not raw.isascii()
        return b"\\u" in raw or b"\\/" in raw

    @property
    def label(self) -> str:
        return self.text


def _case_variants(ch: str) -> bytes:
    """A bytes regex for ``ch`` in any case (bytes IGNORECASE folds ASCII only)."""
    forms = {ch, ch.lower(), ch.upper()}
    enc = sorted(re.escape(f.encode("utf-8")) for f in forms)
    return enc[0] if len(enc) == 1 else b"(?:" + b"|".join(enc) + b")"


def parse_query(text: str) -> Query:
    """``re:…`` is a regex, anything else a literal; both ignore case."""
    if text.startswith(REGEX_PREFIX):
        src = text[len(REGEX_PREFIX) :]
        if not src:
            raise QueryError("empty regex")
        try:
            pattern = re.compile(src, re.IGNORECASE)
        except re.error as e:
            raise QueryError(f"bad regex: {e}") from None
        # On pure-ASCII bytes without escapes a bytes regex means what the
        # str regex means; a file with a backslash or a non-ASCII byte may
        # hold a match the bytes regex does not see, so it is a candidate too.
        # Anchors and lookarounds see the JSON around a string, not the string:
        # with them, every file is a candidate.
        contextual = re.search(r"[\^$]|\\[AZbBG]|\(\?[=!<]", src) is not None
        try:
            raw = re.compile(src.encode("utf-8"), re.IGNORECASE) if src.isascii() and not contextual else None
        except re.error:
            raw = None
        if raw is None:
            raw = re.compile(rb"[\s\S]|^$")  # every file is a candidate
        return Query(text, True, pattern, raw)
    if not text:
        raise QueryError("empty query")
    pattern = re.compile(re.escape(text), re.IGNORECASE)
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]  # the query as it sits inside a JSON string
    forms = {text, escaped}
    alts = []
    for form in sorted(forms):
        alts.append(b"".join(_case_variants(c) if not c.isascii() else re.escape(c.encode()) for c in form))
    raw = re.compile(b"|".join(alts), re.IGNORECASE)
    return Query(text, False, pattern, raw)


def strings_of(raw: bytes) -> list[str] | None:
    """Every string value of a JSON document (keys are structure, not content), iteratively and bounded; None if it does not decode."""
    try:
        doc = msgspec.json.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    out: list[str] = []
    stack: list[Any] = [doc]
    nodes = 0
    while stack and nodes < MAX_NODES:
        v = stack.pop()
        nodes += 1
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    return out


def match_text(q: Query, name: str, raw: bytes | None) -> str | None:
    """The text around the first match in this step file, or None when it does not match."""
    m = q.pattern.search(name)
    if m is not None:
        return name
    if raw is None:
        return None
    strings = strings_of(raw)
    if strings is None:  # not JSON (an unparsable step): its bytes as text
        strings = [raw.decode("utf-8", "replace")]
    for s in strings:
        m = q.pattern.search(s)
        if m is not None:
            a = max(0, m.start() - SNIPPET // 3)
            return s[a : a + SNIPPET * 2]
    return None


def is_candidate(q: Query, raw: bytes) -> bool:
    """Whether ``raw`` may match (the bytes scan); ``match_text`` decides."""
    return q.raw.search(raw) is not None or q.may_hide(raw)


class ContentCache:
    """Raw bytes of one session's step files, read once, shared by successive searches.

    Step files never change after the daemon's rename (a changed or removed
    one rebuilds the timeline model, and the app starts a new cache). Two
    search threads can overlap for a moment (a cancelled one finishing a
    file), so the dict is only touched under the lock.
    """

    def __init__(self, dir_path: str, cap: int = CACHE_CAP):
        self.dir_path = dir_path
        self.cap = cap
        self.size = 0
        self._data: dict[str, bytes | None] = {}
        self._lock = threading.Lock()
        self._last: tuple[list[str], list] = ([], [])  # the last names asked for, and their bytes in that order
        self._joined: tuple[list, bytes, list[int]] | None = None  # _last's bytes as one buffer

    def blobs(
        self,
        names: list[str],
        cancelled: Callable[[], bool] = lambda: False,
        progress: Callable[[int, int], None] | None = None,
        every: float = 0.1,
    ) -> list[bytes | None] | None:
        """The bytes of every name (None: unreadable), reading those not yet cached; None if cancelled."""
        with self._lock:
            last_names, last_blobs = self._last
            k = len(last_names)
            if k and len(names) == k and names == last_names:
                return last_blobs  # the same files again (the same list: its joined buffer is reused too)
            if k and len(names) > k and names[:k] == last_names:
                # the same session with steps appended: reuse the aligned list
                data = self._data
                out = last_blobs + [data.get(n, MISSING_BLOB) for n in names[k:]]
            else:
                data = self._data
                out = [data.get(n, MISSING_BLOB) for n in names]
        missing = [i for i, b in enumerate(out) if b is MISSING_BLOB]
        last = time.perf_counter()
        join = os.path.join
        d = self.dir_path
        fresh: dict[str, bytes | None] = {}
        for k, i in enumerate(missing):
            if (k & 511) == 0:
                if cancelled():
                    return None
                now = time.perf_counter()
                if progress is not None and now - last >= every:
                    progress(k, len(missing))
                    last = now
            b, _err = read_file(join(d, names[i]))
            out[i] = b
            fresh[names[i]] = b
        if fresh:
            with self._lock:
                for name, b in fresh.items():
                    size = len(b) if b else 0
                    if name not in self._data and self.size + size <= self.cap:
                        self._data[name] = b
                        self.size += size
        with self._lock:
            if all(n in self._data for n in names[-1:]) and self.size < self.cap:
                if self._last[1] is not out:
                    self._joined = None
                self._last = (list(names), out)
        return out  # type: ignore[return-value]

    def joined(self, blobs: list[bytes | None]) -> tuple[bytes, list[int]]:
        """All of ``blobs`` as one buffer (NUL between files) and where each starts: one regex pass finds every file."""
        with self._lock:
            j = self._joined
            if j is not None and j[0] is blobs:
                return j[1], j[2]
        parts = [b if b is not None else b"" for b in blobs]
        starts = []
        pos = 0
        for b in parts:
            starts.append(pos)
            pos += len(b) + 1
        data = b"\0".join(parts)
        with self._lock:
            if self._last[1] is blobs:
                self._joined = (blobs, data, starts)
        return data, starts


MISSING_BLOB = object()


@dataclass
class SearchResult:
    query: str
    indices: list[int]  # step indices that match, ascending
    searched: int  # steps looked at
    decoded: int  # candidates decoded
    seconds: float
    cancelled: bool = False


_ODD_ESCAPE = re.compile(rb"\\[u/]")  # what Query.may_hide looks for in a literal query's candidates


def _files_matching(pattern: "re.Pattern[bytes]", data: bytes, starts: list[int]) -> set[int]:
    """Indices of the files (at ``starts`` in ``data``) where ``pattern`` matches; the scan skips to the next file after a hit."""
    out: set[int] = set()
    search = pattern.search
    n = len(starts)
    pos = 0
    while True:
        m = search(data, pos)
        if m is None:
            return out
        i = bisect_right(starts, m.start()) - 1
        out.add(i)
        if i + 1 >= n:
            return out
        pos = starts[i + 1]


def search_steps(
    q: Query,
    names: list[str],
    cache: ContentCache,
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Indices into ``names`` (one session's step files, load order) whose content matches ``q``."""
    t0 = time.perf_counter()
    blobs = cache.blobs(names, cancelled, progress)
    if blobs is None:
        return SearchResult(q.text, [], 0, 0, time.perf_counter() - t0, True)
    if not q.regex and "\0" not in q.text:
        # literal: one regex pass over all the bytes, then the escapes pass; a
        # match cannot cross the NUL between files (the query has none)
        data, starts = cache.joined(blobs)
        found_files = _files_matching(q.raw, data, starts)
        found_files |= _files_matching(_ODD_ESCAPE, data, starts)
        cands = sorted(i for i in found_files if blobs[i] is not None)
    else:
        raw_search = q.raw.search
        hide = q.may_hide
        cands = [i for i, b in enumerate(blobs) if b is not None and (raw_search(b) is not None or hide(b))]
    found: set[int] = set()
    if q.pattern.search("\n".join(names)) is not None:  # rare: the query is in a file name
        found.update(i for i, n in enumerate(names) if q.pattern.search(n) is not None)
    decoded = 0
    for k, i in enumerate(cands):
        if (k & 255) == 0 and cancelled():
            return SearchResult(q.text, [], len(names), decoded, time.perf_counter() - t0, True)
        if i in found:
            continue
        decoded += 1
        if match_text(q, names[i], blobs[i]) is not None:
            found.add(i)
    return SearchResult(q.text, sorted(found), len(names), decoded, time.perf_counter() - t0)


@dataclass
class StoreHit:
    slug: str
    name: str
    text: str  # the matching text around the match


def search_store(
    q: Query,
    sessions: Iterable[tuple[str, str]],
    cap: int,
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int, int], None] | None = None,
    total_sessions: int = 0,
    every: float = 0.1,
) -> tuple[list[StoreHit], int, bool]:
    """Every matching step of every session (slug, dir path): the first ``cap`` hits, the total, cancelled."""
    hits: list[StoreHit] = []
    total = 0
    last = time.perf_counter()
    for k, (slug, dir_path) in enumerate(sessions):
        try:
            names = sorted(n for n in os.listdir(dir_path) if n.startswith("step-"))
        except OSError:
            continue
        for j, name in enumerate(names):
            if (j & 255) == 0:
                if cancelled():
                    return hits, total, True
                now = time.perf_counter()
                if progress is not None and now - last >= every:
                    progress(k, total_sessions, total)
                    last = now
            raw = None
            if q.pattern.search(name) is None:
                raw, _err = read_file(os.path.join(dir_path, name))
                if raw is None or not is_candidate(q, raw):
                    continue
            text = match_text(q, name, raw)
            if text is None:
                continue
            total += 1
            if len(hits) < cap:
                hits.append(StoreHit(slug, name, text))
    return hits, total, False


class SearchState:
    """The one search of the open session, as the UI shows it (UI thread only).

    ``gen`` numbers the requests: a worker's answer for an older ``gen`` is
    stale and dropped. ``covered`` steps (of model ``version``) have been
    searched, so steps appended later are searched alone.
    """

    def __init__(self) -> None:
        self.gen = 0
        self.clear()

    def clear(self) -> None:
        self.gen += 1
        self.text = ""
        self.indices: list[int] = []
        self.rows: list[int] = []
        self.covered = 0
        self.version = -1
        self.running = False
        self.partial = False  # rows shown are from before the running (incremental) search
        self.progress: tuple[int, int] | None = None

    def begin(self, text: str, version: int, keep: bool) -> int:
        self.gen += 1
        if not keep:
            self.indices, self.rows, self.covered = [], [], 0
        self.text = text
        self.version = version
        self.running = True
        self.partial = keep
        self.progress = None
        return self.gen

    def finish(self, indices: list[int], start: int, covered: int, row_of_step: list[int]) -> None:
        self.indices = indices if start == 0 else self.indices + indices
        self.covered = covered
        self.rows = [row_of_step[i] for i in self.indices if i < len(row_of_step)]
        self.running = False
        self.partial = False
        self.progress = None

    def abandon(self) -> None:
        """The model changed under a running search: its answer means other rows."""
        self.running = False
        self.version = -1

    def status(self, cursor_row: int) -> str:
        if self.running and not self.partial:
            if self.progress is not None and self.progress[1]:
                done, total = self.progress
                return f"searching… {100 * done // total}%"
            return "searching…"
        n = len(self.rows)
        more = " …" if self.running else ""
        if n == 0:
            return "no matches" + more
        k = bisect_left(self.rows, cursor_row)
        if k < n and self.rows[k] == cursor_row:
            return f"{k + 1}/{n}{more}"
        return f"{n} match{'' if n == 1 else 'es'}{more}"
