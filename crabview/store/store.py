"""A whole store: its session directories, memory.db, and quick summaries."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import msgspec

from . import models as m
from .decode import decode_meta
from .fileio import _CHUNK, _READ_FLAGS, MISSING
from .layout import (
    STEP_PREFIX,
    TMP_MARK,
    U32_MAX,
    StoreLayout,
    find_latest_session,
    is_utf8_name,
    parse_rust_uint,
    parse_slug,
    resolve,
    sender_slug,
)
from .memory import Memory, load_memory
from .problems import Problem, memory_problems
from .session import Session, read_file


class SessionEntry(msgspec.Struct, frozen=True):
    """A directory under sessions/ (symlinks to directories included)."""

    slug: str
    path: str
    is_symlink: bool


class SessionSummary(msgspec.Struct):
    """What a listing needs without decoding steps: meta and names only."""

    slug: str
    path: str
    meta_status: str
    meta: m.Meta | None
    listed: bool
    step_names: int
    tmp_names: int
    mtime_ns: int  # 0 when not looked up (the listing stays cheap)
    latest: bool = False  # the latest session of its (agent, sender) pair (``Store.summaries``)


class Store:
    """Entry point of the core: ``Store.open(path)``."""

    def __init__(self, layout: StoreLayout):
        self.layout = layout
        self._memory: Memory | None = None

    @property
    def memory(self) -> Memory:
        """memory.db, read on first use: a listing that needs no archive
        (``ls --quick``) never reads it, whatever its size."""
        if self._memory is None:
            self._memory = load_memory(self.layout.memory_path)
        return self._memory

    @memory.setter
    def memory(self, value: Memory) -> None:
        self._memory = value

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None) -> "Store":
        return cls(resolve(path))

    @property
    def sessions_dir(self) -> Path:
        return self.layout.sessions_dir

    def reload_memory(self) -> Memory:
        self._memory = load_memory(self.layout.memory_path)
        return self._memory

    def session_entries(self) -> list[SessionEntry]:
        """Every session directory, in name order (one dir if the user chose one)."""
        return self._scan()[0]

    def _scan(self) -> tuple[list[SessionEntry], dict[str, str]]:
        """The session directories, and (same scan) the latest session of every pair."""
        if self.layout.session is not None:
            p = self.sessions_dir / self.layout.session
            return [SessionEntry(self.layout.session, str(p), p.is_symlink())], latest_sessions(self.sessions_dir)
        out = []
        best: dict[str, tuple[int, str]] = {}
        try:
            it = os.scandir(self.sessions_dir)
        except FileNotFoundError:
            return [], {}
        with it:
            for e in it:
                try:
                    if not e.is_dir():
                        continue
                    link = e.is_symlink()
                except OSError:
                    continue
                out.append(SessionEntry(e.name, e.path, link))
                if not link:
                    _consider_latest(best, e.name)
        out.sort(key=lambda s: s.slug)
        return out, {prefix: name for prefix, (_seq, name) in best.items()}

    def session_path(self, slug: str) -> Path:
        return self.sessions_dir / slug

    def load_session(self, slug: str) -> Session:
        return Session(self.session_path(slug), self.memory).load()

    def iter_sessions(self, progress: Callable[[int, int], None] | None = None) -> Iterator[Session]:
        entries = self.session_entries()
        for i, e in enumerate(entries):
            s = Session(Path(e.path), self.memory).load()
            if progress is not None:
                progress(i + 1, len(entries))
            yield s

    def summaries(
        self,
        progress: Callable[[int, int], None] | None = None,
        last: Iterable[str] = (),
        listed: Callable[[str], list[str] | None] | None = None,
        keep: dict[str, tuple[float, list[str]]] | None = None,
    ) -> list[SessionSummary]:
        """Meta and names of every session, and which is the latest of its pair; no step is read.

        The sessions in ``last`` are summarized after the others, and their
        step names come from ``listed(slug)`` when it has them (a browser
        is opening that session and lists it anyway: a second listing of a
        big directory would only compete with the first); the result is in
        slug order all the same. ``keep`` collects the listings of big
        directories, with when they were made (``opening.open_progressively``
        can start from one instead of listing again).
        """
        entries, latest = self._scan()
        later = set(last)
        if later:
            entries = [e for e in entries if e.slug not in later] + [e for e in entries if e.slug in later]
        out = []
        prefixes: dict[tuple[str, str], str] = {}
        for i, e in enumerate(entries):
            names = listed(e.slug) if listed is not None and e.slug in later else None
            sm = summarize(e, names, keep)
            parts = e.slug.split("_")
            if len(parts) == 3:  # (a slug equal to a latest one parses: no need to parse it here)
                pair = (parts[0], parts[1])
                prefix = prefixes.get(pair)
                if prefix is None:
                    prefix = prefixes[pair] = f"{sender_slug(parts[0])}_{sender_slug(parts[1])}_"
                sm.latest = latest.get(prefix) == e.slug
            out.append(sm)
            if progress is not None:
                progress(i + 1, len(entries))
        if later:
            out.sort(key=lambda sm: sm.slug)
        return out

    def latest(self, agent: str, sender: str) -> str | None:
        return find_latest_session(self.sessions_dir, agent, sender)

    def latest_sessions(self) -> dict[str, str]:
        """The latest session of every pair, by ``<agent-slug>_<sender-slug>_`` prefix (one scan)."""
        return latest_sessions(self.sessions_dir)

    def store_problems(self) -> list[Problem]:
        out = memory_problems(self.memory)
        root = self.layout.root
        if root is not None:
            try:
                for name in sorted(os.listdir(root)):
                    if name.startswith("memory.db.tmp"):
                        out.append(
                            Problem("leftover_tmp", "warning", None, name, "leftover memory.db tmp file (an interrupted rewrite)")
                        )
            except OSError:
                pass
        return out


KEEP_LISTING_MIN = 4096  # entries: a listing worth handing on (``Store.summaries(keep=...)``)


def summarize(e: SessionEntry, step_names: list[str] | None = None, keep: dict[str, tuple[float, list[str]]] | None = None) -> SessionSummary:
    """Meta plus a names-only listing: one listing and one plain read per session, no step reads.

    The meta read is the step loader's: a read-only, non-blocking open and
    one read; anything else (an error, an empty read, a full buffer) takes
    ``read_file``'s careful path, which says why. ``step_names``, when
    given, are the session's step names from a listing already made
    (``session.list_steps``: UTF-8 ``step-`` names only).
    """
    if step_names is None:
        listed_at = time.monotonic()
        try:
            listing = os.listdir(e.path)
        except OSError:
            listing = []
        if keep is not None and len(listing) >= KEEP_LISTING_MIN and all(len(v[1]) < len(listing) for v in keep.values()):
            keep.clear()  # only the biggest is kept: it is the one opened by default
            keep[e.slug] = (listed_at, listing)
        has_meta = "meta" in listing
    else:
        listing = step_names
        has_meta = os.path.lexists(os.path.join(e.path, "meta"))
    meta = None
    if has_meta:
        data = _plain_read(e.path + "/meta")  # POSIX only, like the rest of the core
        if data is None:
            data, reason = read_file(os.path.join(e.path, "meta"))
        if data is None:  # as Session reads it: gone since the listing (or a dangling link) is missing
            status = "missing" if reason == MISSING else "unreadable"
        else:
            meta = decode_meta(data).meta
            status = "ok" if meta is not None else "corrupt"
    else:
        status = "missing"
    if step_names is None:
        names = [n for n in listing if n.startswith(STEP_PREFIX)]
        if not all(map(str.isascii, names)):  # names that are not UTF-8 are no steps
            names = [n for n in names if is_utf8_name(n)]
    else:
        names = step_names  # already only the UTF-8 step- names (session.list_steps)
    tmps = len([n for n in names if TMP_MARK in n])
    listed = status == "ok" and not e.is_symlink and is_utf8_name(e.slug)
    return SessionSummary(e.slug, e.path, status, meta, listed, len(names), tmps, 0)


def _plain_read(path: str) -> bytes | None:
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        data = os.read(fd, _CHUNK)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if data and len(data) != _CHUNK else None


def latest_sessions(sessions_dir: Path) -> dict[str, str]:
    """``find_latest_session`` for every pair at once: ``<agent>_<sender>_`` -> slug.

    One scan instead of one per pair. A pair's prefix holds exactly two
    ``_`` (``sender_slug`` turns every ``_`` into ``-``) and a seq never
    holds one, so a candidate's prefix is its name up to the last ``_``.
    Same rules as ``find_latest_session``: directories only (no symlinks),
    the largest seq that parses as u32, the first in directory order on a tie.
    """
    best: dict[str, tuple[int, str]] = {}
    try:
        it = os.scandir(sessions_dir)
    except OSError:
        return {}
    with it:
        for e in it:
            try:
                if not e.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            _consider_latest(best, e.name)
    return {prefix: name for prefix, (_seq, name) in best.items()}


def _consider_latest(best: dict[str, tuple[int, str]], name: str) -> None:
    """Count directory ``name`` (not a symlink) as a candidate for its pair's latest."""
    cut = name.rfind("_") + 1
    if not cut:
        return
    seq = parse_rust_uint(name[cut:], U32_MAX)
    if seq is None:
        return
    held = best.get(name[:cut])
    if held is None or seq > held[0]:
        best[name[:cut]] = (seq, name)


__all__ = ["Store", "SessionEntry", "SessionSummary", "summarize", "latest_sessions", "parse_slug"]
