"""Opening a session end first: what a browser shows before the whole session is read.

A session grows all day, and what a user opens it for is nearly always its
end. ``open_progressively`` reads the directory listing, then the last
``tail`` steps of the daemon's load order, and hands a stand-in ``Session``
holding just those to ``on_partial``; then it reads backwards until it
meets a compact boundary (the last boundary is the first one met from the
end, so the replay start and archive are then known exactly) and hands a
bigger stand-in; then it reads the rest from the front, calling
``on_progress``, and returns the whole session, the same ``Session`` a
plain ``load`` builds (a property test holds them equal).

The listing itself is the floor of an exact answer: a name can sort
anywhere in the load order, so the end is known only once every name is.

A stand-in says so (``Session.partial``): its load verdict is "pending"
unless it is already certain (meta missing or corrupt, an unreadable step
seen), and counts over its steps are counts so far.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Callable, NamedTuple

from . import models as m
from .session import LAZY_THRESHOLD, Session, StepFile, StepSource, _collect_calls, _load_steps, list_steps, split_listing

TAIL_STEPS = 256  # a screenful or a few: what the first paint needs
BACK_BATCH = 4096  # steps read per look for a boundary
BACK_BUDGET = 65_536  # steps read backwards at most before the rest is read from the front


class PartialLoad(NamedTuple):
    """What a stand-in holds: the steps from ``first`` (a load-order index) of ``total``."""

    first: int
    total: int
    boundary_known: bool  # the last boundary (or that there is none) is certain

    @property
    def shown(self) -> int:
        return self.total - self.first


class LoadCancelled(Exception):
    """Raised by a progress callback to stop a progressive open."""


def open_progressively(
    s: Session,
    on_partial: Callable[[Session], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_listed: Callable[[list[str]], None] | None = None,
    tail: int = TAIL_STEPS,
    back_batch: int = BACK_BATCH,
    back_budget: int = BACK_BUDGET,
    listing: tuple[float, list[str]] | None = None,
) -> Session:
    """Load ``s`` (a fresh ``Session``) end first; returns it, fully loaded.

    ``on_partial`` gets stand-ins (never ``s`` itself, which no one sees
    before it is whole); ``on_progress(done, total)`` is called as steps
    are read. Either may raise (``LoadCancelled``) to stop: ``s`` is then
    left unloaded. ``on_listed`` gets the step names in load order as soon
    as the directory is listed (a summary can count them instead of
    listing the directory again); it must not change them. ``listing``:
    (``time.monotonic()`` before it was made, ``os.listdir``'s names) of
    this directory, made moments ago, to start from instead of listing.
    """
    with s.lock:
        s.is_symlink = s.path.is_symlink()
        s._read_meta()
        dir_path = str(s.path)
        try:
            dfd = os.open(dir_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            s._scan_dir()  # says why, the way a plain load does
            return s
        was_enabled = gc.isenabled()
        gc.disable()  # bulk allocation of acyclic objects: don't let the GC rescan them
        try:
            s.dir_error = None
            if listing is not None:
                s.listed_at = listing[0]
                names, others = split_listing(listing[1])
            else:
                s.listed_at = time.monotonic()
                names, others = list_steps(dfd)
            if on_listed is not None:
                on_listed(names)
            total = len(names)
            source = StepSource(dir_path) if total > LAZY_THRESHOLD else None
            # parts of the load order, last first: (steps, their tool calls in order)
            parts: list[tuple[list[StepFile], list]] = []
            start = total

            def read_back(count: int) -> bool:
                """Read ``count`` more steps before ``start``; True if a boundary came."""
                nonlocal start
                lo = max(0, start - count)
                calls: list = []
                steps = _load_steps(dfd, dir_path, names[lo:start], source, calls)
                parts.append((steps, calls))
                start = lo
                return any(st.kind == m.KIND_COMPACT or st.kind == m.KIND_LEGACY for st in steps)

            found = read_back(min(tail, total)) if total else False
            if start > 0 and on_partial is not None:
                on_partial(_stand_in(s, others, source, parts, start, total, found))
            read = total - start
            while start > 0 and not found and read < back_budget:
                found = read_back(min(back_batch, back_budget - read))
                read = total - start
                if on_progress is not None:
                    on_progress(read, total)
            if start > 0 and on_partial is not None and read > tail:
                on_partial(_stand_in(s, others, source, parts, start, total, found))
            front_calls: list = []
            front: list[StepFile] = []
            if start > 0:
                done_back = total - start

                def progress(done: int) -> None:
                    if on_progress is not None:
                        on_progress(done + done_back, total)

                front = _load_steps(dfd, dir_path, names[:start], source, front_calls, progress)
            steps = front
            for part, _ in reversed(parts):
                steps += part
            if source is not None:
                tool_calls: dict = {}
                _collect_calls(tool_calls, front_calls)
                for _, calls in reversed(parts):
                    _collect_calls(tool_calls, calls)
                source.tool_calls = tool_calls  # a new dict: a stand-in's readers keep theirs
        finally:
            os.close(dfd)
            if was_enabled:
                gc.enable()
        s.source = source
        s.steps = steps
        s.other_names = others
        s._rederive()
        if on_progress is not None:
            on_progress(total, total)
        return s


def _stand_in(
    s: Session, others: set[str], source: StepSource | None, parts: list[tuple[list[StepFile], list]], start: int, total: int, found: bool
) -> Session:
    """A Session holding the steps read so far (the end of the load order), marked partial."""
    p = Session(s.path, s.memory)
    p.is_symlink = s.is_symlink
    p.meta_status, p.meta_decode, p.meta_error, p.meta_mtime_ns = s.meta_status, s.meta_decode, s.meta_error, s.meta_mtime_ns
    p.other_names = set(others)
    p.source = source
    steps: list[StepFile] = []
    for part, _ in reversed(parts):
        steps += part
    p.steps = steps
    p.partial = PartialLoad(start, total, found)
    p._rederive()
    if source is not None:
        # the calls seen so far, in load order: a new dict each time, never
        # one a reader may be iterating (``ToolIndex`` reads the steps' source)
        calls: dict = {}
        for _, part_calls in reversed(parts):
            _collect_calls(calls, part_calls)
        source.tool_calls = calls
    return p
