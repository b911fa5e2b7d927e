"""A whole store: its session directories, memory.db, and quick summaries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import msgspec

from . import models as m
from .decode import decode_meta
from .layout import (
    STEP_PREFIX,
    TMP_MARK,
    StoreLayout,
    find_latest_session,
    is_utf8_name,
    parse_slug,
    resolve,
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
        if self.layout.session is not None:
            p = self.sessions_dir / self.layout.session
            return [SessionEntry(self.layout.session, str(p), p.is_symlink())]
        out = []
        try:
            it = os.scandir(self.sessions_dir)
        except FileNotFoundError:
            return []
        with it:
            for e in it:
                try:
                    if not e.is_dir():
                        continue
                    link = e.is_symlink()
                except OSError:
                    continue
                out.append(SessionEntry(e.name, e.path, link))
        out.sort(key=lambda s: s.slug)
        return out

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

    def summaries(self, progress: Callable[[int, int], None] | None = None) -> list[SessionSummary]:
        entries = self.session_entries()
        out = []
        for i, e in enumerate(entries):
            out.append(summarize(e))
            if progress is not None:
                progress(i + 1, len(entries))
        return out

    def latest(self, agent: str, sender: str) -> str | None:
        return find_latest_session(self.sessions_dir, agent, sender)

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


def summarize(e: SessionEntry) -> SessionSummary:
    """Meta plus a names-only listing: two syscall groups per session, no step reads."""
    try:
        listing = os.listdir(e.path)
    except OSError:
        listing = []
    meta = None
    if "meta" in listing:
        data, _reason = read_file(os.path.join(e.path, "meta"))
        if data is None:
            status = "unreadable"
        else:
            meta = decode_meta(data).meta
            status = "ok" if meta is not None else "corrupt"
    else:
        status = "missing"
    steps = tmps = 0
    for n in listing:
        if n.startswith(STEP_PREFIX) and (n.isascii() or is_utf8_name(n)):
            steps += 1
            if TMP_MARK in n:
                tmps += 1
    listed = status == "ok" and not e.is_symlink and is_utf8_name(e.slug)
    return SessionSummary(e.slug, e.path, status, meta, listed, steps, tmps, 0)


__all__ = ["Store", "SessionEntry", "SessionSummary", "summarize", "parse_slug"]
