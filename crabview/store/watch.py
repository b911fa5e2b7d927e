"""Watch a store and turn raw file changes into typed store events.

Built on watchfiles (inotify through Rust's notify). What the design has to
absorb, measured on this kind of machine:

- the daemon's tmp + rename arrives as (added tmp), (deleted tmp), (added
  final), never "modified"; an atomic rewrite of ``meta`` is "added" too.
  So change types are hints only: every touched name is checked against
  the disk and against what was already reported (by inode);
- batches are unordered sets, and bursts come in dozens: events are sorted
  into load order per session before they are emitted;
- files written just after a new session directory appears can be missed
  by inotify: a new directory is always scanned;
- changes before the watcher is ready are lost: watching starts first, the
  initial scan second, and names are de-duplicated;
- a tmp file that lives for a moment is normal; one that outlives
  ``tmp_grace`` is a leftover and is reported then (the daemon would load
  it), never flashed while a write is in flight;
- where inotify is unavailable (or ``poll=True``) a names-only poller
  diffs directory listings, re-listing only directories whose mtime moved
  (step files never change after their rename).

Latency vs idle cost: watchfiles sleeps ``step`` ms between looks and yields
once a look finds nothing new (or ``debounce`` ms have passed), so a lone
step arrives within about 1-2 ``step``s, and a burst is cut into batches at
most ``debounce`` ms apart. Measured with tests/bench/live.py (tail -f as a
separate process, 500 steps at 20 ms): step=2 → p95 4.6 ms at ~1.0 % idle
CPU; step=3 → p95 6.6 ms, ~1.0 %; step=5 → p95 10.5 ms, 0.6 %. step=4 keeps
p95 well under 25 ms and idle CPU under 1 %; debounce=20 bounds a burst's
batches to 20 ms.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import AsyncIterator, Iterable

import msgspec

from .layout import STEP_PREFIX, TMP_MARK, StoreLayout, is_utf8_name, load_order_key

DEFAULT_STEP_MS = 4
DEFAULT_DEBOUNCE_MS = 20
DEFAULT_TMP_GRACE = 0.5
MEMORY_CHECK = 1.0
POLL_INTERVAL = 0.25


class SessionAdded(msgspec.Struct, tag=True):
    slug: str


class SessionRemoved(msgspec.Struct, tag=True):
    slug: str


class MetaChanged(msgspec.Struct, tag=True):
    slug: str


class StepsAdded(msgspec.Struct, tag=True):
    slug: str
    names: list[str]  # in the daemon's load order


class StepsChanged(msgspec.Struct, tag=True):
    slug: str
    names: list[str]


class StepsRemoved(msgspec.Struct, tag=True):
    slug: str
    names: list[str]


class OtherChanged(msgspec.Struct, tag=True):
    """Non-step names in a session dir (leftover meta tmp files, strays)."""

    slug: str
    names: list[str]


class MemoryChanged(msgspec.Struct, tag=True):
    pass


class WatcherState(msgspec.Struct, tag=True):
    """The watcher's mode changed (e.g. fell back to polling)."""

    mode: str
    reason: str = ""


StoreEvent = (
    SessionAdded | SessionRemoved | MetaChanged | StepsAdded | StepsChanged | StepsRemoved | OtherChanged | MemoryChanged | WatcherState
)


def _scan_names(path: str) -> dict[str, int] | None:
    """name -> inode for a directory (inode comes free with scandir)."""
    try:
        with os.scandir(path) as it:
            return {e.name: e.inode() for e in it}
    except OSError:
        return None


def _inode(path: str) -> int | None:
    try:
        return os.lstat(path).st_ino
    except OSError:
        return None


class StoreWatcher:
    """Async source of store events for one root (or one session dir)."""

    def __init__(
        self,
        layout: StoreLayout,
        poll: bool = False,
        step_ms: int = DEFAULT_STEP_MS,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        tmp_grace: float = DEFAULT_TMP_GRACE,
        poll_interval: float = POLL_INTERVAL,
    ):
        self.layout = layout
        self.sessions_dir = str(layout.sessions_dir)
        self.only = layout.session
        self.memory_path = str(layout.memory_path) if layout.memory_path is not None else None
        self.poll = poll
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.tmp_grace = tmp_grace
        self.poll_interval = poll_interval
        self.mode = "poll" if poll else "inotify"
        self.fallback_reason = ""
        # slug -> {name: inode}: everything already reported
        self.known: dict[str, dict[str, int]] = {}
        self.sessions_mtime: dict[str, int] = {}
        # slug -> inode of the directory: a session deleted and recreated
        # between two looks is a new session, not a changed one.
        self.dir_inode: dict[str, int] = {}
        self.memory_sig: tuple[int, int, int] | None = None
        self.pending_tmp: dict[tuple[str, str], float] = {}
        self._stop = asyncio.Event()
        self.batches = 0

    # -- public --------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def events(self, initial: bool = False) -> AsyncIterator[list[StoreEvent]]:
        """Yield lists of events until ``stop()``.

        The first yield is the initial state (SessionAdded/StepsAdded for all
        that exists) when ``initial`` is true; otherwise the initial scan only
        primes the de-duplication and nothing is yielded for it.
        """
        queue: asyncio.Queue[object] = asyncio.Queue()
        task = None
        if not self.poll:
            task = asyncio.create_task(self._pump_inotify(queue))
            for _ in range(3):  # let the pump register its watches before we scan
                await asyncio.sleep(0)
            if task.done() and task.exception() is not None:
                self._fall_back(f"inotify unavailable: {task.exception()}")
                task = None
        first = self._initial_scan()
        if initial and first:
            yield first
        if self.mode == "poll" and self.fallback_reason:
            yield [WatcherState("poll", self.fallback_reason)]
        # One pending queue.get() lives across iterations: cancelling and
        # re-creating it on every tmp-grace timeout would let a cancelled
        # getter swallow a batch (a lost step; found by tests/bench/stress.py).
        get_fut: asyncio.Future | None = None
        stop_fut = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                timeout = self._next_timeout()
                if self.mode == "poll":
                    await self._sleep_or_stop(timeout if timeout is not None else self.poll_interval)
                    out = self._poll_once()
                else:
                    if get_fut is None:
                        get_fut = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({get_fut, stop_fut}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    if get_fut in done:
                        item = get_fut.result()
                        get_fut = None
                    elif stop_fut in done:
                        break
                    else:
                        item = set()  # a tmp file's grace ran out, or time to look at memory.db
                    if isinstance(item, BaseException):
                        self._fall_back(f"inotify failed: {item}")
                        if task is not None:
                            task.cancel()
                            task = None
                        out = [WatcherState("poll", self.fallback_reason)] + self._poll_once()
                    else:
                        out = self._apply_changes(item)  # type: ignore[arg-type]
                out.extend(self._expire_tmp())
                if out:
                    self.batches += 1
                    yield out
        finally:
            self._stop.set()
            for fut in (get_fut, stop_fut):
                if fut is not None and not fut.done():
                    fut.cancel()
            if task is not None:
                task.cancel()
                try:
                    await task
                except BaseException:
                    pass

    # -- inotify pump ------------------------------------------------------------

    async def _pump_inotify(self, queue: asyncio.Queue[object]) -> None:
        from watchfiles import awatch

        # Only the sessions (or the one session) are watched: the root may
        # hold much else. memory.db is checked by stat on every batch (the
        # daemon writes an archive before the compact step that names it, so
        # the batch holding that step sees the new memory.db) and every
        # MEMORY_CHECK seconds when idle.
        paths = [self.sessions_dir if self.only is None else os.path.join(self.sessions_dir, self.only)]
        try:
            async for changes in awatch(
                *paths,
                watch_filter=self._relevant,
                debounce=self.debounce_ms,
                step=self.step_ms,
                stop_event=self._stop,
                recursive=True,
                force_polling=False,
                ignore_permission_denied=True,
            ):
                await queue.put(changes)
        except Exception as e:  # e.g. the inotify watch limit
            await queue.put(e)

    def _relevant(self, change: object, path: str) -> bool:
        """Session dirs and the entries directly in them; nothing deeper."""
        sd = self.sessions_dir
        if path.startswith(sd + os.sep):
            return path.count(os.sep, len(sd) + 1) <= 1
        return False

    async def _sleep_or_stop(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _fall_back(self, reason: str) -> None:
        self.mode = "poll"
        self.fallback_reason = reason

    # -- state ---------------------------------------------------------------------

    def _session_slugs(self) -> list[str]:
        if self.only is not None:
            return [self.only] if os.path.isdir(os.path.join(self.sessions_dir, self.only)) else []
        try:
            with os.scandir(self.sessions_dir) as it:
                return [e.name for e in it if _is_dir(e)]
        except OSError:
            return []

    def _initial_scan(self) -> list[StoreEvent]:
        out: list[StoreEvent] = []
        for slug in sorted(self._session_slugs()):
            out.extend(self._add_session(slug, initial=True))
        self.memory_sig = self._memory_sig()
        return out

    def _memory_sig(self) -> tuple[int, int, int] | None:
        if self.memory_path is None:
            return None
        try:
            st = os.stat(self.memory_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _add_session(self, slug: str, initial: bool = False) -> list[StoreEvent]:
        path = os.path.join(self.sessions_dir, slug)
        names = _scan_names(path)
        if names is None:
            return []
        out: list[StoreEvent] = []
        dino = _inode(path)
        if slug in self.known and dino is not None and self.dir_inode.get(slug) not in (None, dino):
            out.extend(self._remove_session(slug))  # recreated under the same name
        if dino is not None:
            self.dir_inode[slug] = dino
        fresh = slug not in self.known
        known = self.known.setdefault(slug, {})
        if fresh:
            out.append(SessionAdded(slug))
        try:
            self.sessions_mtime[slug] = os.stat(path).st_mtime_ns
        except OSError:
            pass
        steps, others, changed = [], [], []
        now = time.monotonic()
        for name, ino in names.items():
            if name in known:
                if known[name] != ino and name != "meta":
                    changed.append(name)
                    known[name] = ino
                elif known[name] != ino:
                    known[name] = ino
                    out.append(MetaChanged(slug))
                continue
            if TMP_MARK in name and not initial:
                # Maybe a write in flight (also in a brand-new directory):
                # report it only if it stays. At start-up nothing is in flight
                # as far as we can know, so it is taken as it is.
                self.pending_tmp.setdefault((slug, name), now + self.tmp_grace)
                continue
            known[name] = ino
            if name == "meta":
                if not fresh:
                    out.append(MetaChanged(slug))
            elif name.startswith(STEP_PREFIX) and is_utf8_name(name):
                steps.append(name)
            else:
                others.append(name)
        gone = [n for n in known if n not in names]
        for n in gone:
            del known[n]
        if steps:
            out.append(StepsAdded(slug, sorted(steps, key=load_order_key)))
        if changed:
            out.append(StepsChanged(slug, sorted(changed, key=load_order_key)))
        removed_steps = [n for n in gone if n.startswith(STEP_PREFIX)]
        if removed_steps:
            out.append(StepsRemoved(slug, sorted(removed_steps, key=load_order_key)))
        if "meta" in gone:
            out.append(MetaChanged(slug))
        other_changes = others + [n for n in gone if not n.startswith(STEP_PREFIX) and n != "meta"]
        if other_changes:
            out.append(OtherChanged(slug, sorted(other_changes)))
        return out

    def _remove_session(self, slug: str) -> list[StoreEvent]:
        if slug not in self.known:
            return []
        del self.known[slug]
        self.sessions_mtime.pop(slug, None)
        self.dir_inode.pop(slug, None)
        for key in [k for k in self.pending_tmp if k[0] == slug]:
            del self.pending_tmp[key]
        return [SessionRemoved(slug)]

    def _touch(self, slug: str, names: Iterable[str], deleted: set[str] | frozenset = frozenset()) -> list[StoreEvent]:
        """Check touched names of one session against the disk.

        ``deleted``: names with a "deleted" change in this batch; if such a
        name exists now it was rewritten, whatever its inode says."""
        sdir = os.path.join(self.sessions_dir, slug)
        known = self.known.get(slug)
        if known is None:
            return []
        added, changed, removed, others = [], [], [], []
        meta = False
        now = time.monotonic()
        for name in names:
            ino = _inode(os.path.join(sdir, name))
            if TMP_MARK in name and name not in known:
                if ino is not None:
                    self.pending_tmp.setdefault((slug, name), now + self.tmp_grace)
                else:
                    self.pending_tmp.pop((slug, name), None)
                continue
            old = known.get(name)
            if ino is None:
                if old is not None:
                    del known[name]
                    if name == "meta":
                        meta = True
                    elif name.startswith(STEP_PREFIX) and is_utf8_name(name):
                        removed.append(name)
                    else:
                        others.append(name)
                continue
            if old == ino and name != "meta" and name not in deleted:
                # Already reported (the initial scan raced the event). Step
                # files are never deleted by the daemon, so their inodes are
                # not reused; meta's are (every rewrite frees one), so a
                # touched meta is always re-read.
                continue
            known[name] = ino
            if name == "meta":
                meta = True
            elif name.startswith(STEP_PREFIX) and is_utf8_name(name):
                (added if old is None else changed).append(name)
            else:
                others.append(name)
        out: list[StoreEvent] = []
        if meta:
            out.append(MetaChanged(slug))
        if added:
            out.append(StepsAdded(slug, sorted(added, key=load_order_key)))
        if changed:
            out.append(StepsChanged(slug, sorted(changed, key=load_order_key)))
        if removed:
            out.append(StepsRemoved(slug, sorted(removed, key=load_order_key)))
        if others:
            out.append(OtherChanged(slug, sorted(others)))
        return out

    def _apply_changes(self, changes: set[tuple[object, str]]) -> list[StoreEvent]:
        sd = self.sessions_dir
        touched: dict[str, set[str]] = {}
        dirs: set[str] = set()
        # Inode numbers are reused at once: a session deleted and recreated
        # (or a file deleted and rewritten) between two looks can come back
        # with the same inodes. A "deleted" change in the batch is the
        # reliable sign, so it overrides the inode comparison.
        dir_deleted: set[str] = set()
        deleted: dict[str, set[str]] = {}
        for change, path in changes:
            if not path.startswith(sd + os.sep):
                continue
            rest = path[len(sd) + 1 :]
            if not rest:
                continue
            parts = rest.split(os.sep)
            gone = int(change) == 3  # watchfiles.Change.deleted
            if len(parts) == 1:
                dirs.add(parts[0])
                if gone:
                    dir_deleted.add(parts[0])
            elif len(parts) == 2:
                touched.setdefault(parts[0], set()).add(parts[1])
                if gone:
                    deleted.setdefault(parts[0], set()).add(parts[1])
        if self.only is not None:
            # Watching one session dir: paths are relative to sessions_dir too.
            dirs = {d for d in dirs if d == self.only}
            touched = {k: v for k, v in touched.items() if k == self.only}
        out: list[StoreEvent] = []
        for slug in sorted(dirs | set(touched)):
            exists = os.path.isdir(os.path.join(sd, slug))
            if not exists:
                out.extend(self._remove_session(slug))
                continue
            if slug in dir_deleted and slug in self.known:
                out.extend(self._remove_session(slug))  # deleted and already recreated
            if slug not in self.known or self.dir_inode.get(slug) != _inode(os.path.join(sd, slug)):
                # New (or deleted and recreated) directory: scan it whole,
                # since inotify may have missed its first files.
                out.extend(self._add_session(slug))
                continue
            if slug in dirs and slug not in touched:
                out.extend(self._add_session(slug))
                continue
            out.extend(self._touch(slug, touched.get(slug, ()), deleted.get(slug, set())))
        out.extend(self._check_memory())
        return out

    def _check_memory(self) -> list[StoreEvent]:
        sig = self._memory_sig()
        if sig != self.memory_sig:
            self.memory_sig = sig
            return [MemoryChanged()]
        return []

    # -- tmp files --------------------------------------------------------------------

    def _next_timeout(self) -> float | None:
        idle = MEMORY_CHECK if self.memory_path is not None else None
        if not self.pending_tmp:
            return idle
        due = max(0.0, min(self.pending_tmp.values()) - time.monotonic()) + 0.001
        return due if idle is None else min(due, idle)

    def _expire_tmp(self) -> list[StoreEvent]:
        if not self.pending_tmp:
            return []
        now = time.monotonic()
        due = [k for k, t in self.pending_tmp.items() if t <= now]
        out: list[StoreEvent] = []
        by_slug: dict[str, list[str]] = {}
        for key in due:
            del self.pending_tmp[key]
            slug, name = key
            known = self.known.get(slug)
            ino = _inode(os.path.join(self.sessions_dir, slug, name))
            if known is None or ino is None:
                continue
            known[name] = ino
            by_slug.setdefault(slug, []).append(name)
        for slug, names in sorted(by_slug.items()):
            steps = sorted((n for n in names if n.startswith(STEP_PREFIX) and is_utf8_name(n)), key=load_order_key)
            others = sorted(n for n in names if not (n.startswith(STEP_PREFIX) and is_utf8_name(n)))
            if steps:
                out.append(StepsAdded(slug, steps))
            if others:
                out.append(OtherChanged(slug, others))
        return out

    # -- polling -----------------------------------------------------------------------

    def _poll_once(self) -> list[StoreEvent]:
        out: list[StoreEvent] = []
        slugs = set(self._session_slugs())
        for slug in sorted(set(self.known) - slugs):
            out.extend(self._remove_session(slug))
        for slug in sorted(slugs):
            path = os.path.join(self.sessions_dir, slug)
            if slug not in self.known or self.dir_inode.get(slug) != _inode(path):
                out.extend(self._add_session(slug))
                continue
            try:
                mt = os.stat(path).st_mtime_ns
            except OSError:
                continue
            # Re-list when the dir changed, and keep re-listing recently
            # changed dirs for a moment (coarse mtime granularity).
            if mt != self.sessions_mtime.get(slug) or time.time_ns() - mt < 2_000_000_000:
                names = _scan_names(path) or {}
                known = self.known[slug]
                touched = set(names) ^ set(known)
                touched |= {n for n, ino in names.items() if known.get(n, ino) != ino}
                self.sessions_mtime[slug] = mt
                if touched:
                    out.extend(self._touch(slug, touched))
        sig = self._memory_sig()
        if sig != self.memory_sig:
            self.memory_sig = sig
            out.append(MemoryChanged())
        return out


def _is_dir(e: os.DirEntry[str]) -> bool:
    try:
        return e.is_dir()
    except OSError:
        return False


def affected_slugs(events: Iterable[StoreEvent]) -> set[str]:
    return {e.slug for e in events if hasattr(e, "slug")}


def step_names_for(events: Iterable[StoreEvent], slug: str) -> list[str]:
    """Every name a session must re-read for these events (for Session.refresh)."""
    names: list[str] = []
    for e in events:
        if getattr(e, "slug", None) != slug:
            continue
        if isinstance(e, (StepsAdded, StepsChanged, StepsRemoved, OtherChanged)):
            names.extend(e.names)
        elif isinstance(e, MetaChanged):
            names.append("meta")
    return names
