"""A session as the daemon loads it (FORMAT.md 4), plus everything it hides.

``load_session`` reads a session directory once; ``Session.refresh``
re-reads only the names it is given (the live watcher's job). Derived facts
(replay boundary, replayed files, next step number, problems) are computed
from the step list, incrementally when steps are appended at the end of the
load order, which is what a live daemon does.
"""

from __future__ import annotations

import functools
import gc
import os
import select
import threading
import time
from sys import intern
from bisect import bisect_left
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import msgspec

from . import models as m
from .childread import ChildReader
from .decode import KIND_BY_TYPE, MetaDecode, decode_fast, decode_meta, decode_step
from .layout import STEP_PREFIX, TMP_MARK, is_utf8_name, parse_slug, step_number
from .memory import Memory
from .problems import Problem, session_problems

from .fileio import _CHUNK, _READ_FLAGS, MISSING, read_file  # noqa: F401 (read_file is API)


class _Lazy:
    """Marks a decoded value that was dropped after the verdict (re-read on use)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LAZY"


LAZY = _Lazy()
_NAME = attrgetter("name")

# Sessions with more step files than this keep only their verdicts in
# memory, plus the values derived facts need (compacts, done events); the
# rest is re-read from disk on use, through a small LRU (toolong's way).
# A decoded step costs ~2.3x its bytes in Python objects; a verdict ~150 B.
LAZY_THRESHOLD = 20_000
_KEEP_WHEN_LAZY = (m.Compact, m.LegacyCompact, m.DoneEvent)


class StepSource:
    """A session directory's step files, for values not kept in memory.

    Shared by every thread that renders or searches the session (the UI,
    search and facts workers), so the LRU is only touched under its lock;
    the file read and decode run outside it.
    """

    def __init__(self, dir_path: str, maxsize: int = 4096):
        self.dir_path = dir_path
        self.maxsize = maxsize
        self.cache: dict[str, Any] = {}
        self.reads = 0
        self._lock = threading.Lock()
        # tool call id -> (tool name, input, step name), collected while
        # loading, so pairing results with calls needs no re-read
        self.tool_calls: dict[str, tuple[str, Any, str]] = {}

    def value(self, step: "StepFile") -> Any:
        name = step.name
        with self._lock:
            cache = self.cache
            v = cache.pop(name, None)
            if v is not None:
                cache[name] = v  # re-inserted last: most recently used
                return v
            self.reads += 1
        data, _reason = read_file(os.path.join(self.dir_path, name))
        if data is None:
            return None
        d = decode_step(data)
        if d.kind != step.kind:
            return None  # changed on disk since the verdict: show nothing rather than a mismatch
        v = d.value
        self._remember(name, v)
        return v

    def _remember(self, name: str, v: Any) -> None:
        """Put a value in the LRU, as its most recent entry."""
        with self._lock:
            cache = self.cache
            cache.pop(name, None)  # another thread may have read it meanwhile
            while cache and len(cache) >= self.maxsize:
                del cache[next(iter(cache))]  # dicts keep insertion order: the oldest goes
            cache[name] = v

    def put(self, step: "StepFile", d: Any) -> None:
        """Cache ``step``'s value from a decode of its bytes read elsewhere (``read_ahead``'s child)."""
        if d.kind != step.kind:
            return  # changed on disk since the verdict: ``value`` decides
        self.reads += 1
        self._remember(step.name, d.value)

    def prefetch(self, steps: "Sequence[StepFile]") -> None:
        """Read and decode the lazy ``steps`` not cached, in one pass over a
        directory fd (the load's fast path, ~2x cheaper per file than one
        ``value`` call each), so a walk in order finds them cached. What
        needs the careful path is left to ``value``."""
        cache = self.cache
        todo = [st for st in steps if st.stored is LAZY and st.name not in cache]
        if not todo:
            return
        try:
            dfd = os.open(self.dir_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            datas = _read_steps(dfd, [st.name for st in todo])
        finally:
            os.close(dfd)
        self.reads += len(todo)
        for st, data in zip(todo, datas):
            if data is None:
                continue
            d = decode_step(data)
            if d.kind != st.kind:
                continue  # changed on disk since the verdict: ``value`` decides
            self._remember(st.name, d.value)  # under the lock, as the class promises


READ_AHEAD = 256  # steps read per batch by ``read_ahead``


def read_ahead(steps: "Sequence[StepFile]", indices: "Iterable[int] | None" = None) -> "Iterator[tuple[int, StepFile]]":
    """(index, step) for ``indices`` of ``steps`` (all by default) in order,
    with lazy values read a batch ahead: what a streamed rendering walks.

    A long walk over lazy steps has a child process read the files ahead
    (``childread``, as a big load does), so reading them again costs this
    process only their decoding; what the child cannot read plainly is
    left to ``StepSource.value``.
    """
    if indices is None:
        order: "Iterable[int]" = range(len(steps))
    else:
        order = indices if isinstance(indices, (list, range, tuple)) else list(indices)  # walked twice
    lazy = [i for i in order if steps[i].stored is LAZY] if len(steps) >= PARALLEL_THRESHOLD else []
    if len(lazy) >= PARALLEL_THRESHOLD:
        src = steps[lazy[0]].source
        if src is not None and all(steps[i].source is src for i in (lazy[len(lazy) // 2], lazy[-1])):
            walk = _child_ahead(steps, order, lazy, src)
            del lazy  # the child has the names: not kept through the walk
            if walk is not None:
                yield from walk
                return
    batch: list[int] = []
    for i in order:
        batch.append(i)
        if len(batch) >= READ_AHEAD:
            yield from _with_values(steps, batch)
            batch = []
    yield from _with_values(steps, batch)


_WALK_TAKE = 64 << 10  # bytes a streamed walk takes from its child at a time (the rest waits in the pipe)


def _child_ahead(
    steps: "Sequence[StepFile]", order: "Iterable[int]", lazy: list[int], src: StepSource
) -> "Iterator[tuple[int, StepFile]] | None":
    """``read_ahead`` with a child reading the ``lazy`` steps' files; None if no child starts."""
    try:
        dfd = os.open(src.dir_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    reader = ChildReader.start(dfd, [steps[i].name for i in lazy], _READ_FLAGS, _CHUNK)
    if reader is None:
        os.close(dfd)
        return None
    return _child_walk(steps, order, src, reader, dfd)


def _child_walk(
    steps: "Sequence[StepFile]", order: "Iterable[int]", src: StepSource, reader: ChildReader, dfd: int
) -> "Iterator[tuple[int, StepFile]]":
    arrived: list[bytes | None] = []
    k = 0  # next of ``arrived`` to use
    try:
        for i in order:
            st = steps[i]
            if st.stored is LAZY:
                while k >= len(arrived) and not reader.eof:
                    arrived, k = reader.poll(_WALK_TAKE), 0
                    if not arrived and not reader.eof:
                        select.select([reader.fd], [], [], 1.0)
                if k < len(arrived):
                    data = arrived[k]
                    k += 1
                    if data is not None:  # None: the child could not read it plainly, ``value`` will
                        src.put(st, decode_step(data))
            yield i, st
    finally:
        reader.close()
        os.close(dfd)


def _with_values(steps: "Sequence[StepFile]", batch: list[int]) -> "Iterator[tuple[int, StepFile]]":
    chunk = [steps[i] for i in batch]
    sources = {id(st.source): st.source for st in chunk if st.source is not None and st.stored is LAZY}
    for src in sources.values():
        src.prefetch(chunk)  # type: ignore[union-attr]
    yield from zip(batch, chunk)


class StepFile(msgspec.Struct, gc=False):
    """One ``step-`` directory entry and the daemon's verdict on it."""

    name: str
    kind: str
    stored: Any = None  # the decoded value, or LAZY (see ``value``)
    error: str | None = None
    offset: int | None = None
    size: int = 0
    notes: tuple[str, ...] = ()
    variants: tuple[tuple[str, str, int], ...] = ()
    source: StepSource | None = None

    @property
    def value(self) -> Any:
        """The decoded StepLine value (None for unparsable/unreadable steps)."""
        v = self.stored
        if v is LAZY:
            return self.source.value(self)  # type: ignore[union-attr]
        return v

    @property
    def number(self) -> int | None:
        return step_number(self.name)

    @property
    def is_tmp(self) -> bool:
        return TMP_MARK in self.name

    @property
    def decoded(self) -> bool:
        return self.kind in (m.KIND_ENTRY, m.KIND_EVENT, m.KIND_COMPACT, m.KIND_LEGACY)

    @property
    def is_boundary(self) -> bool:
        return self.kind in (m.KIND_COMPACT, m.KIND_LEGACY)


class ReplayBoundary(msgspec.Struct):
    """The last compact boundary: replay starts here."""

    index: int  # into Session.steps
    name: str
    kind: str  # compact | legacy_compact
    archive_name: str | None  # None for a legacy compact
    archived_at: str


def load_step(dir_path: str, name: str) -> StepFile:
    """Read and decode one step entry, carefully. Never raises."""
    data, reason = read_file(os.path.join(dir_path, name))
    if data is None:
        return StepFile(name, m.KIND_UNREADABLE, error=reason)
    d = decode_step(data)
    return StepFile(name, d.kind, d.value, d.error, d.offset, len(data), d.notes, d.variants)


# Loads with more step files than this share the reading with a child
# process (``childread``): it reads from the front of the load order while
# this process reads from the back and decodes everything. Below it, the
# child's start (a few ms) costs more than it saves.
PARALLEL_THRESHOLD = 4096
_BACK_BATCH = 256  # files read from the back between looks at what the child sent


def _load_steps(
    dfd: int,
    dir_path: str,
    names: list[str],
    source: StepSource | None = None,
    calls: list | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[StepFile]:
    """Read and decode ``names`` (sorted); the result is in ``names`` order.

    A big load takes the child's bytes for the front and reads the back
    itself; the two halves are joined in order and the tool calls a lazy
    load collects are applied in load order, so the outcome is exactly the
    single-reader one. With ``calls`` given, the tool calls are appended
    there in load order instead (the caller applies them: a progressive
    open loads the end first). ``progress(done)`` is called now and then
    from a big load; an exception it raises aborts the load.
    """
    count = len(names)
    reader = ChildReader.start(dfd, names, _READ_FLAGS, _CHUNK) if count >= PARALLEL_THRESHOLD else None
    if reader is None:
        found: list = [] if calls is None else calls
        steps = _decode_steps(dir_path, names, _read_steps(dfd, names), source, found)
        if source is not None and calls is None:
            _collect_calls(source.tool_calls, found)
        return steps
    front: list[StepFile] = []
    front_calls: list = []
    back: list[tuple[list[StepFile], list]] = []  # batches, last one first
    end = count  # names[end:] are done (from the back)
    try:
        while len(front) < end:
            if progress is not None:
                progress(len(front) + count - end)
            arrived = reader.poll()
            if arrived:
                first = len(front)
                arrived = arrived[: end - first]
                front += _decode_steps(dir_path, names[first : first + len(arrived)], arrived, source, front_calls)
                continue
            start = max(len(front), end - _BACK_BATCH)
            batch = names[start:end]
            batch_calls: list = []
            back.append((_decode_steps(dir_path, batch, _read_steps(dfd, batch), source, batch_calls), batch_calls))
            end = start
    finally:
        reader.close()
    back.reverse()
    steps = front
    for part, _ in back:
        steps += part
    if calls is not None:
        calls += front_calls
        for _, batch_calls in back:
            calls += batch_calls
    elif source is not None:
        tool_calls = source.tool_calls
        _collect_calls(tool_calls, front_calls)
        for _, batch_calls in back:
            _collect_calls(tool_calls, batch_calls)
    return steps


def list_steps(dfd: int) -> tuple[list[str], set[str]]:
    """The step names of a directory in the daemon's load order, and every other entry.

    Names that are not UTF-8 are no steps (the daemon's lossy reading never
    lets them start with ``step-`` and parse)."""
    return split_listing(os.listdir(dfd))


def split_listing(listing: list[str]) -> tuple[list[str], set[str]]:
    """``list_steps`` of a listing already made."""
    names = [n for n in listing if n.startswith(STEP_PREFIX)]
    others = {n for n in listing if not n.startswith(STEP_PREFIX)}
    if not all(map(str.isascii, names)):
        others.update(n for n in names if not is_utf8_name(n))
        names = [n for n in names if is_utf8_name(n)]
    names.sort()
    return names, others


def _read_steps(dfd: int, names: list[str]) -> list[bytes | None]:
    """The bytes of each file, relative to the directory fd (None: take the careful path).

    The careful path is for anything but a plain read: an open or read
    error (a directory, permissions), an empty read (maybe a FIFO:
    O_NONBLOCK keeps us from blocking, fstat tells), a first read that fills
    the buffer (maybe a device: checked before reading on). Kept flat on
    purpose: per-file overhead is the whole budget.
    """
    out: list[bytes | None] = []
    append = out.append
    o, r, c = os.open, os.read, os.close
    flags = _READ_FLAGS
    chunk = _CHUNK
    for name in names:
        try:
            fd = o(name, flags, dir_fd=dfd)
        except OSError:
            append(None)
            continue
        try:
            data = r(fd, chunk)
        except OSError:
            data = None
        c(fd)
        append(data if data and len(data) != chunk else None)
    return out


def _decode_steps(
    dir_path: str, names: list[str], datas: list[bytes | None], source: StepSource | None, calls: list
) -> list[StepFile]:
    """The verdict on each file's bytes; canonical files never leave this function.

    A lazy load (``source`` set) keeps only what derived facts need and
    appends the tool calls it sees to ``calls`` (applied in order by the
    caller).
    """
    out: list[StepFile] = []
    append = out.append
    fast = decode_fast
    kinds = KIND_BY_TYPE
    lazy = _lazy_step
    for name, data in zip(names, datas):
        if data is None:
            append(load_step(dir_path, name))
            continue
        value = fast(data)
        if value is not None:
            if source is None:
                append(StepFile(name, kinds[type(value)], value, None, None, len(data)))
            else:
                append(lazy(name, kinds[type(value)], value, len(data), (), (), source, calls))
        else:
            d = decode_step(data)
            if source is None or d.value is None:
                append(StepFile(name, d.kind, d.value, d.error, d.offset, len(data), d.notes, d.variants))
            else:
                append(lazy(name, d.kind, d.value, len(data), d.notes, d.variants, source, calls))
    return out


def _lazy_step(
    name: str, kind: str, value: Any, size: int, notes: tuple, variants: tuple, source: StepSource, calls: list
) -> StepFile:
    t = type(value)
    if t in _KEEP_WHEN_LAZY:
        return StepFile(name, kind, value, None, None, size, notes, variants, source)
    if t is m.HistoryEntry:
        for b in value.message.content:
            if type(b) is m.ToolUseBlock:
                calls.append((b.id, (intern(b.name), b.input, name), True))  # a handful of tool names, many calls
    elif t is m.ToolStartEvent:
        for c in value.calls:
            calls.append((c.id, (intern(c.name), c.arguments, name), False))
    return StepFile(name, kind, LAZY, None, None, size, notes, variants, source)


def _collect_calls(tool_calls: dict[str, tuple[str, Any, str]], calls: list) -> None:
    """Tool calls in load order: a tool_use block's id wins over a tool_start's."""
    for call_id, call, from_entry in calls:
        if from_entry:
            tool_calls[call_id] = call
        else:
            tool_calls.setdefault(call_id, call)


def _locked(method):
    """Run a ``Session`` method under the session's lock."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return run


class Session:
    """One session directory: meta, steps in load order, derived replay."""

    def __init__(self, path: Path, memory: Memory | None = None):
        self.path = Path(path)
        self.slug = self.path.name
        self.parsed_slug = parse_slug(self.slug)
        self.memory = memory
        self.meta_status = "missing"  # ok | missing | corrupt | unreadable
        self.meta_decode: MetaDecode | None = None
        self.meta_error: str | None = None
        self.meta_mtime_ns = 0
        self.dir_error: str | None = None
        self.is_symlink = False
        self.steps: list[StepFile] = []
        self.other_names: set[str] = set()  # non-step entries (meta, tmp of meta, strays)
        self.boundary: ReplayBoundary | None = None
        self.source: StepSource | None = None  # set when values live on disk (big sessions)
        self._derived: dict[str, Any] = {}
        self.generation = 0
        # step name -> why: steps a live follower saw change after it read
        # them (store/live.py); the daemon never rewrites a step
        self.rewritten: dict[str, str] = {}
        # set on the stand-in a progressive open shows while it reads the
        # rest (store/opening.py): ``steps`` are then only the end
        self.partial: Any = None
        self.listed_at = 0.0  # time.monotonic() just before the directory was last listed whole
        # The one lock of a session: load/refresh (the watcher's thread) and
        # every derived fact (facts and search workers, the UI) take it, so
        # no reader iterates a step list being changed or a half-built cache.
        self.lock = threading.RLock()

    # -- reading -----------------------------------------------------------

    @_locked
    def load(self) -> "Session":
        self.is_symlink = self.path.is_symlink()
        self._read_meta()
        self._scan_dir()
        return self

    def _read_meta(self) -> None:
        meta_path = self.path / "meta"
        try:
            self.meta_mtime_ns = os.stat(meta_path).st_mtime_ns
        except OSError:
            self.meta_mtime_ns = 0
        data, reason = read_file(str(meta_path))
        if data is None:
            if reason == MISSING:
                self.meta_status, self.meta_error, self.meta_decode = "missing", "meta does not exist", None
            else:
                self.meta_status, self.meta_error, self.meta_decode = "unreadable", reason, None
            return
        d = decode_meta(data)
        self.meta_decode = d
        if d.meta is None:
            self.meta_status, self.meta_error = "corrupt", d.error
        else:
            self.meta_status, self.meta_error = "ok", None

    def _scan_dir(self) -> None:
        dir_path = str(self.path)
        try:
            dfd = os.open(dir_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            self.dir_error = f"cannot list: {e.strerror or e}"
            self.steps, self.other_names = [], set()
            self._rederive()
            return
        try:
            self.dir_error = None
            self.listed_at = time.monotonic()
            names, others = list_steps(dfd)
            self.source = StepSource(dir_path) if len(names) > LAZY_THRESHOLD else None
            was_enabled = gc.isenabled()
            gc.disable()  # bulk allocation of acyclic objects: don't let the GC rescan them
            try:
                self.steps = _load_steps(dfd, dir_path, names, self.source)
            finally:
                if was_enabled:
                    gc.enable()
        finally:
            os.close(dfd)
        self.other_names = others
        self._rederive()

    # -- incremental refresh --------------------------------------------------

    @_locked
    def refresh(self, names: Iterable[str] | None = None) -> "RefreshResult":
        """Re-read only ``names`` (entry names in this dir); None = everything.

        Step files never change after the daemon's rename, so a name that is
        already loaded and still present is re-read only if asked for.
        """
        if names is None:
            before = {st.name for st in self.steps}
            self.load()
            self.generation += 1
            return RefreshResult(added=[st.name for st in self.steps if st.name not in before], full=True)
        result = RefreshResult()
        appended_only = True
        touched_meta = False
        for name in sorted(set(names)):
            if name == "meta":
                touched_meta = True
                if os.path.lexists(os.path.join(str(self.path), name)):
                    self.other_names.add(name)
                else:
                    self.other_names.discard(name)
                continue
            full = os.path.join(str(self.path), name)
            exists = os.path.lexists(full)
            is_step = name.startswith(STEP_PREFIX) and is_utf8_name(name)
            if not is_step:
                if exists:
                    self.other_names.add(name)
                else:
                    self.other_names.discard(name)
                continue
            i = bisect_left(self.steps, name, key=_NAME)
            present = i < len(self.steps) and self.steps[i].name == name
            if not exists:
                if present:
                    del self.steps[i]
                    result.removed.append(name)
                    appended_only = False
                continue
            step = load_step(str(self.path), name)
            if present:
                self.steps[i] = step
                result.changed.append(name)
                appended_only = False
            else:
                if i != len(self.steps):
                    appended_only = False
                self.steps.insert(i, step)
                result.added.append(name)
        if touched_meta:
            self._read_meta()
            result.meta_changed = True
        if result.added or result.removed or result.changed:
            if appended_only and result.added:
                self._derive_appended(len(result.added))
            else:
                self._rederive()
            self.generation += 1
        elif result.meta_changed or names:
            self._derived.clear()
        return result

    @_locked
    def mark_rewritten(self, names: Iterable[str], reason: str) -> None:
        for name in names:
            self.rewritten[name] = reason
        self._derived.clear()

    @_locked
    def set_memory(self, memory: Memory) -> None:
        self.memory = memory
        self._derived.clear()

    # -- derived facts ----------------------------------------------------------

    def _rederive(self) -> None:
        self.boundary = None
        steps = self.steps
        for i in range(len(steps) - 1, -1, -1):
            if steps[i].kind in (m.KIND_COMPACT, m.KIND_LEGACY):
                self.boundary = _boundary(i, steps[i])
                break
        self._derived.clear()

    def _derive_appended(self, count: int) -> None:
        steps = self.steps
        for i in range(len(steps) - count, len(steps)):
            if steps[i].kind in (m.KIND_COMPACT, m.KIND_LEGACY):
                self.boundary = _boundary(i, steps[i])
        self._derived.clear()

    @_locked
    def index_of(self, name: str) -> int | None:
        i = bisect_left(self.steps, name, key=_NAME)
        return i if i < len(self.steps) and self.steps[i].name == name else None

    @property
    def replay_start(self) -> int:
        """Index of the first step the daemon looks at on resume."""
        return self.boundary.index if self.boundary is not None else 0

    def is_replayed(self, i: int) -> bool:
        """Whether the daemon's resume would put step ``i`` in the history."""
        return self.steps[i].kind == m.KIND_ENTRY and i >= self.replay_start and self.load_status == "ok"

    @property
    @_locked
    def replay_indices(self) -> list[int]:
        """Indices of the entries the daemon would replay (none if its load fails)."""
        r = self._derived.get("replay")
        if r is None:
            if self.load_status != "ok":
                r = []
            else:
                start = self.replay_start
                r = [i for i in range(start, len(self.steps)) if self.steps[i].kind == m.KIND_ENTRY]
            self._derived["replay"] = r
        return r

    @property
    def archive(self) -> str | None:
        b = self.boundary
        return b.archive_name if b is not None else None

    @property
    def archive_found(self) -> bool | None:
        name = self.archive
        if name is None:
            return None
        return self.memory is not None and self.memory.resolve(name) is not None

    @property
    def archive_text(self) -> str | None:
        """What the daemon prepends to the history on resume."""
        name = self.archive
        if name is None:
            return None
        entry = self.memory.resolve(name) if self.memory is not None else None
        return entry.content if entry is not None else f"[archived context unavailable: {name}]"

    @property
    @_locked
    def next_step(self) -> int:
        """The number the daemon's counter gives the next step after a start."""
        n = self._derived.get("next_step")
        if n is None:
            best = 0
            # Only names starting with "step-" can parse, and the daemon's
            # lossy reading of non-UTF-8 names never yields digits.
            for st in self.steps:
                k = step_number(st.name)
                if k is not None and k > best:
                    best = k
            # `max + 1` in a u64 with overflow checks off (the daemon's
            # release build): step-18446744073709551615 wraps the counter to 0
            n = self._derived["next_step"] = (best + 1) % (1 << 64)
        return n

    @property
    def entry_names(self) -> set[str]:
        """Every name in the session directory (as of the last load/refresh)."""
        return {st.name for st in self.steps} | self.other_names

    @property
    def meta(self) -> m.Meta | None:
        return self.meta_decode.meta if self.meta_decode is not None else None

    @property
    def unreadable(self) -> list[StepFile]:
        return [s for s in self.steps if s.kind == m.KIND_UNREADABLE]

    @property
    def load_status(self) -> str:
        """What the daemon's ``load_session`` returns: ok | none | error (pending: a partial stand-in)."""
        if self.meta_status == "missing":
            return "none"
        if self.meta_status in ("corrupt", "unreadable") or self.dir_error or self._counts()[m.KIND_UNREADABLE]:
            return "error"
        if self.partial is not None:  # an unreadable step may still come: not known until all is read
            return "pending"
        return "ok"

    @property
    def load_error(self) -> str | None:
        if self.meta_status == "missing":
            return "meta does not exist: the daemon treats the session as absent"
        if self.meta_status == "corrupt":
            return f"meta does not decode: {self.meta_error}"
        if self.meta_status == "unreadable":
            return f"meta cannot be read: {self.meta_error}"
        if self.dir_error:
            return self.dir_error
        bad = self.unreadable
        if bad:
            return f"{bad[0].name} {bad[0].error}: the whole load fails"
        return None

    @property
    def listed(self) -> bool:
        """Whether the daemon's ``list_sessions`` shows this session."""
        return not self.is_symlink and self.meta_status == "ok" and is_utf8_name(self.slug)

    @property
    @_locked
    def problems(self) -> list[Problem]:
        p = self._derived.get("problems")
        if p is None:
            p = session_problems(self)
            self._derived["problems"] = p
        return p

    @_locked
    def _counts(self) -> dict[str, int]:
        c = self._derived.get("counts")
        if c is None:
            c = {k: 0 for k in m.KINDS}
            for s in self.steps:
                c[s.kind] += 1
            self._derived["counts"] = c
        return c

    @_locked
    def kind_counts(self) -> dict[str, int]:
        return dict(self._counts())

    @property
    def compact_count(self) -> int:
        c = self.kind_counts()
        return c[m.KIND_COMPACT] + c[m.KIND_LEGACY]

    @_locked
    def usage_totals(self) -> dict[str, int]:
        """Token totals over every ``done`` event, replayed or not."""
        t = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "turns": 0}
        for s in self.steps:
            v = s.stored  # done events are always kept in memory (never LAZY)
            if type(v) is m.DoneEvent:
                t["prompt_tokens"] += v.usage.prompt_tokens
                t["completion_tokens"] += v.usage.completion_tokens
                t["total_tokens"] += v.usage.total_tokens
                t["turns"] += 1
        return t


def _boundary(i: int, s: StepFile) -> ReplayBoundary:
    v = s.value
    if type(v) is m.Compact:
        return ReplayBoundary(i, s.name, s.kind, v.archive_name, v.archived_at)
    return ReplayBoundary(i, s.name, s.kind, None, v.archived_at)


class RefreshResult(msgspec.Struct):
    added: list[str] = []
    changed: list[str] = []
    removed: list[str] = []
    meta_changed: bool = False
    full: bool = False


def load_session(path: str | os.PathLike[str], memory: Memory | None = None) -> Session:
    """Load one session directory. Never raises for bad content."""
    return Session(Path(path), memory).load()
