"""A whole store: its session directories, memory.db, and quick summaries."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import msgspec

from . import models as m
from .fileio import _CHUNK, _READ_FLAGS, MISSING, read_file
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

if TYPE_CHECKING:
    from .memory import Memory
    from .problems import Problem
    from .session import Session

# The step loader (and its child reader), memory.db and the problem rules
# are imported when first used: `ls --quick` needs none of them, and a
# listing that starts in a few milliseconds is part of its speed.


def load_memory(path: Path | None) -> "Memory":
    from .memory import load_memory as load

    return load(path)


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
    def memory(self) -> "Memory":
        """memory.db, read on first use: a listing that needs no archive
        (``ls --quick``) never reads it, whatever its size."""
        if self._memory is None:
            self._memory = load_memory(self.layout.memory_path)
        return self._memory

    @memory.setter
    def memory(self, value: "Memory") -> None:
        self._memory = value

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None) -> "Store":
        return cls(resolve(path))

    @property
    def sessions_dir(self) -> Path:
        return self.layout.sessions_dir

    def reload_memory(self) -> "Memory":
        self._memory = load_memory(self.layout.memory_path)
        return self._memory

    def session_entries(self) -> list[SessionEntry]:
        """Every session directory, in name order (one dir if the user chose one)."""
        return self._scan()[0]

    def _scan(self) -> tuple[list[SessionEntry], dict[str, str]]:
        """The session directories, and (same scan) the latest session of every pair."""
        names, base, links, latest = self._scan_names()
        return [SessionEntry(name, base + name, name in links) for name in names], latest

    def _scan_names(self) -> tuple[list[str], str, set[str], dict[str, str]]:
        """``_scan`` as plain names: (slugs in order, the prefix that makes a
        slug its path, the slugs that are symlinks, latest by pair).
        A listing of 10k sessions makes its summaries straight from these."""
        base = os.path.join(os.fspath(self.sessions_dir), "")
        if self.layout.session is not None:
            name = self.layout.session
            return [name], base, {name} if os.path.islink(base + name) else set(), latest_sessions(self.sessions_dir)
        names = []
        links: set[str] = set()
        try:
            it = os.scandir(self.sessions_dir)
        except FileNotFoundError:
            return [], base, set(), {}
        with it:
            for e in it:
                try:
                    if not e.is_dir():
                        continue
                    if e.is_symlink():
                        links.add(e.name)
                except OSError:
                    continue
                names.append(e.name)
        # The latest of each pair, in directory order (a tie goes to the
        # first): _consider_latest, inlined, where ASCII digits need no regex.
        best: dict[str, tuple[int, str]] = {}
        held_by = best.get
        for name in names:
            if name in links:
                continue
            prefix, sep, tail = name.rpartition("_")
            if not sep:
                continue
            if tail.isdigit() and tail.isascii():
                seq: int | None = int(tail)
                if seq > U32_MAX:  # type: ignore[operator]
                    continue
            else:
                seq = parse_rust_uint(tail, U32_MAX)
                if seq is None:
                    continue
            prefix += "_"
            held = held_by(prefix)
            if held is None or seq > held[0]:  # type: ignore[operator]
                best[prefix] = (seq, name)  # type: ignore[assignment]
        names.sort()
        return names, base, links, {prefix: name for prefix, (_seq, name) in best.items()}

    def session_path(self, slug: str) -> Path:
        return self.sessions_dir / slug

    def load_session(self, slug: str) -> "Session":
        from .session import Session

        return Session(self.session_path(slug), self.memory).load()

    def iter_sessions(self, progress: Callable[[int, int], None] | None = None) -> Iterator["Session"]:
        from .session import Session

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

        This is ``summarize`` for every session, inlined: a listing of 10k
        sessions costs little more than its system calls (one listing and
        one read per session; ``tests/bench/load.py``).
        """
        names, base, links, latest = self._scan_names()
        later = set(last)
        if later:
            names = [n for n in names if n not in later] + [n for n in names if n in later]
        latest_names = _latest_names(latest)
        out: list[SessionSummary] = []
        append = out.append
        listdir, oopen, oread, oclose, monotonic = os.listdir, os.open, os.read, os.close, time.monotonic
        flags, chunk = _READ_FLAGS, _CHUNK
        decode, encode, summary, count_steps = _META_DECODE, _ENCODE, SessionSummary, _count_steps
        total = len(names)
        for slug in names:
            path = base + slug
            is_link = slug in links
            if later and slug in later:
                sm = summarize(SessionEntry(slug, path, is_link), listed(slug) if listed is not None else None, keep)
                sm.latest = slug in latest_names
                append(sm)
                if progress is not None:
                    progress(len(out), total)
                continue
            if keep is not None:
                listed_at = monotonic()
            try:
                listing = listdir(path)
            except OSError:
                listing = []
            if keep is not None and len(listing) >= KEEP_LISTING_MIN and all(len(v[1]) < len(listing) for v in keep.values()):
                keep.clear()  # only the biggest is kept: it is the one opened by default
                keep[slug] = (listed_at, listing)
            meta = None
            if "meta" in listing:
                data = None
                try:  # _plain_read, inlined
                    fd = oopen(path + "/meta", flags)
                except OSError:
                    pass
                else:
                    try:
                        data = oread(fd, chunk)
                    except OSError:
                        pass
                    finally:
                        oclose(fd)
                reason = ""
                if not data or len(data) == chunk:
                    data, reason = read_file(os.path.join(path, "meta"))
                if data is None:  # as Session reads it: a dangling link (or a meta gone since) is missing
                    status = "missing" if reason == MISSING else "unreadable"
                else:
                    try:  # _meta_of, inlined
                        meta = decode(data)
                    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                        meta = _careful_meta(data)
                    else:
                        if encode(meta) != data:
                            meta = _careful_meta(data)
                    status = "corrupt" if meta is None else "ok"
            else:
                status = "missing"
            if len(listing) == 1 and meta is not None:  # the usual quiet session: meta and nothing else
                steps = tmps = 0
            else:
                steps, tmps = count_steps(listing)
            append(summary(
                slug, path, status, meta, status == "ok" and not is_link and (slug.isascii() or is_utf8_name(slug)),
                steps, tmps, 0, slug in latest_names,
            ))
            if progress is not None:
                progress(len(out), total)
        if later:
            out.sort(key=lambda sm: sm.slug)
        return out

    def latest(self, agent: str, sender: str) -> str | None:
        return find_latest_session(self.sessions_dir, agent, sender)

    def latest_sessions(self) -> dict[str, str]:
        """The latest session of every pair, by ``<agent-slug>_<sender-slug>_`` prefix (one scan)."""
        return latest_sessions(self.sessions_dir)

    def store_problems(self) -> list["Problem"]:
        from .problems import Problem, memory_problems

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
            meta = _meta_of(data)
            status = "ok" if meta is not None else "corrupt"
    else:
        status = "missing"
    if step_names is None:
        steps, tmps = _count_steps(listing)
    else:  # already only the UTF-8 step- names (session.list_steps)
        steps, tmps = len(step_names), len([n for n in step_names if TMP_MARK in n])
    listed = status == "ok" and not e.is_symlink and is_utf8_name(e.slug)
    return SessionSummary(e.slug, e.path, status, meta, listed, steps, tmps, 0)


def _count_steps(listing: list[str]) -> tuple[int, int]:
    """(step names, tmp leftovers among them) of a directory listing; names that are not UTF-8 are no steps."""
    names = [n for n in listing if n.startswith(STEP_PREFIX)]
    if not all(map(str.isascii, names)):
        names = [n for n in names if is_utf8_name(n)]
    return len(names), len([n for n in names if TMP_MARK in n])


# decode_meta's first try, without importing the careful decoder (its JSON
# parser and serde rules) for the metas that need none of it: a meta that
# decodes and encodes back to its very bytes is what decode_meta returns
# too; anything else goes to decode_meta itself.
_META_DECODE = msgspec.json.Decoder(m.Meta).decode
_ENCODE = msgspec.json.Encoder().encode


def _meta_of(data: bytes) -> m.Meta | None:
    try:
        meta = _META_DECODE(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return _careful_meta(data)
    return meta if _ENCODE(meta) == data else _careful_meta(data)


def _careful_meta(data: bytes) -> m.Meta | None:
    from .decode import decode_meta

    return decode_meta(data).meta


def _latest_names(latest: dict[str, str]) -> set[str]:
    """The slugs a listing flags as latest: each pair's latest, where the
    pair's prefix is its own slug's (``<sender_slug(agent)>_<sender_slug(sender)>_``).

    A slug of three parts whose agent or sender is not already in
    ``sender_slug`` form (``Crab_user_3``) is found by no lookup of its pair
    (the daemon looks up ``crab_user_``), so it is no one's latest.
    """
    out = set()
    for prefix, slug in latest.items():
        parts = slug.split("_")
        if len(parts) == 3 and f"{sender_slug(parts[0])}_{sender_slug(parts[1])}_" == prefix:
            out.add(slug)
    return out

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
