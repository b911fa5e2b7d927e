"""Watch a store and turn raw file changes into typed store events.

Structure: one non-recursive inotify watch on the root, one on
``sessions/``, one on each session directory (``inotify.py``). Nothing is
ever watched recursively, so a session directory that is a symlink (to
``/usr``, to ``/``) costs one watch on its target, never a walk of it; such
sessions are flagged in the status. A watch that cannot be added (ENOSPC at
the per-user limit, or any other error, or past ``max_watches``) is not
fatal: that directory is polled instead, and the status says so:
``inotify + poll (N dirs polled: watch limit)``.

What the design has to absorb, measured on this kind of machine:

- the daemon's tmp + rename arrives as create/modify/close/moved-from of
  the tmp and moved-to of the final name. Events are hints only: every
  touched name is checked against the disk and against what was already
  reported, by file identity (device, inode, size, mtime);
- inodes are reused at once: a "deleted" event in the batch overrides an
  identity that looks unchanged;
- a step is the same step when its session, name and identity match: a
  session (or the whole store) moved away and back is not reported again
  (its identities are kept as ghosts), a session deleted and recreated is;
- the root and ``sessions/`` are known by (device, inode): when either is
  moved away, replaced or comes back, a ``StoreReplaced`` event says so and
  the whole store is rescanned (watches rebuilt);
- a file written in place (created or modified, not renamed in) is
  reported once it settles: when the writer closes it, or ``settle`` s
  after its last write if it stays open; a step that changes after it was
  reported is ``StepsChanged`` (the daemon never does that);
- changes before the watcher is ready are lost: each directory is watched
  first and scanned second, and names are de-duplicated;
- a tmp file that lives for a moment is normal; one that outlives
  ``tmp_grace`` is a leftover and is reported then (the daemon would load
  it), never flashed while a write is in flight;
- the inotify queue can overflow: then every session is rescanned.

Latency vs idle cost: the inotify fd is read as soon as it is readable
(an asyncio reader, no sleeping poll loop); a batch ends after ``quiet_ms``
without new events, or ``debounce_ms`` after it began, so a lone step
arrives at once and a burst comes in batches at most 20 ms apart. The only
timer when idle is a look at the store's identity and memory.db every
second. Measured with tests/bench/live.py (tail -f as a separate process,
500 steps at 20 ms): p50 1.7 ms, p95 6.7 ms rename -> line (watchfiles
with step=4 gave p50 7.0, p95 9.0), idle CPU 0.1 % (was 0.7-1.2 %).
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from typing import AsyncIterator, Callable, Iterable

import msgspec

from . import inotify as ino
from .layout import STEP_PREFIX, TMP_MARK, StoreLayout, is_utf8_name, load_order_key

DEFAULT_QUIET_MS = 1
DEFAULT_DEBOUNCE_MS = 20
DEFAULT_TMP_GRACE = 0.5
STORE_CHECK = 1.0  # idle look at the root's identity and memory.db
POLL_INTERVAL = 0.25
MAX_WATCHES_ENV = "CRABVIEW_MAX_WATCHES"

_DIR_MASK = ino.IN_CREATE | ino.IN_DELETE | ino.IN_MOVED_FROM | ino.IN_MOVED_TO | ino.IN_CLOSE_WRITE | ino.IN_DELETE_SELF | ino.IN_MOVE_SELF | ino.IN_ONLYDIR
_SESSION_MASK = _DIR_MASK | ino.IN_MODIFY | ino.IN_ATTRIB
# sessions/ also hears a session dir's permissions change: one that could
# not be listed is looked at again when it can
_SESSIONS_MASK = _DIR_MASK | ino.IN_ATTRIB
_SELF = ino.IN_DELETE_SELF | ino.IN_MOVE_SELF | ino.IN_IGNORED | ino.IN_UNMOUNT
_SESSIONS_KEY = "\0sessions"  # the polled-dirs key of sessions/ itself
_ROOT_KEY = "\0root"
_PARENT_KEY = "\0parent"

Ident = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


class SessionAdded(msgspec.Struct, tag=True):
    slug: str


class SessionRemoved(msgspec.Struct, tag=True):
    slug: str
    # moved away (or gone with the store) rather than deleted: if it comes
    # back, the steps it held are not new
    moved: bool = False


class MetaChanged(msgspec.Struct, tag=True):
    slug: str


class StepsAdded(msgspec.Struct, tag=True):
    slug: str
    names: list[str]  # in the daemon's load order


class StepsChanged(msgspec.Struct, tag=True):
    """Steps already reported whose file changed (rewritten in place or replaced)."""

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
    """How the store is watched now (``describe()`` of the watcher)."""

    mode: str  # inotify | inotify + poll | poll
    reason: str = ""


class StoreReplaced(msgspec.Struct, tag=True):
    """The root or sessions/ is not the directory it was.

    state: ``gone`` (moved away or deleted), ``replaced`` (another directory
    is there now), ``back`` (the directory that was there before is back).
    Sessions that go with it are SessionRemoved(moved=True) in the same
    batch, and what the new store holds follows as SessionAdded/StepsAdded.
    """

    state: str
    path: str
    reason: str = ""


StoreEvent = (
    SessionAdded
    | SessionRemoved
    | MetaChanged
    | StepsAdded
    | StepsChanged
    | StepsRemoved
    | OtherChanged
    | MemoryChanged
    | WatcherState
    | StoreReplaced
)


def _ident(st: os.stat_result) -> Ident:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _scan(path: str, stopped: Callable[[], bool] | None = None) -> dict[str, Ident] | None:
    """name -> identity for a directory's entries (lstat: links are not followed).

    ``stopped`` is asked every few thousand entries (a million-entry
    directory takes seconds): True gives None, as for a directory gone."""
    out: dict[str, Ident] = {}
    try:
        with os.scandir(path) as it:
            for e in it:
                if stopped is not None and not len(out) & 0xFFF and stopped():
                    return None
                try:
                    out[e.name] = _ident(e.stat(follow_symlinks=False))
                except OSError:
                    continue  # gone between the listing and the stat
    except OSError:
        return None
    return out


def _scan_settled(path: str, known: dict[str, Ident]) -> dict[str, Ident] | None:
    """``_scan``, safe against a listing that races renames into the directory.

    readdir misses an entry renamed in behind its cursor while it returns
    one renamed in later, so one listing can hold step N+1 without step N.
    Every step up to the highest new one in that listing was renamed in
    before it ended (the daemon numbers steps in write order), so a second
    listing holds them all; steps it shows beyond that wait for the next
    look, so what is reported never skips one.
    """
    names = _scan(path)
    if names is None:
        return None
    new = [n for n in names if n not in known and _is_step(n) and TMP_MARK not in n]
    if not new:
        return names
    again = _scan(path)
    if again is None:
        return names
    top = max(load_order_key(n) for n in new)
    for n, ident in again.items():
        if n not in names and (not _is_step(n) or TMP_MARK in n or load_order_key(n) <= top):
            names[n] = ident
    return names


def _lident(path: str) -> Ident | None:
    try:
        return _ident(os.lstat(path))
    except OSError:
        return None


def _dir_id(path: str) -> tuple[int, int] | None:
    """(device, inode) of the directory ``path`` names now (links followed)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not (st.st_mode & 0o170000 == 0o040000):
        return None
    return (st.st_dev, st.st_ino)


def _is_step(name: str) -> bool:
    return name.startswith(STEP_PREFIX) and is_utf8_name(name)


def _why(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "watch limit"
    return (os.strerror(e.errno) if e.errno else str(e)).lower()


def _env_max_watches() -> int | None:
    v = os.environ.get(MAX_WATCHES_ENV, "").strip()
    return int(v) if v.isascii() and v.isdigit() else None


class StoreWatcher:
    """Async source of store events for one root (or one session dir)."""

    def __init__(
        self,
        layout: StoreLayout,
        poll: bool = False,
        quiet_ms: int = DEFAULT_QUIET_MS,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        tmp_grace: float = DEFAULT_TMP_GRACE,
        poll_interval: float = POLL_INTERVAL,
        settle: float | None = None,
        max_watches: int | None = None,
    ):
        self.layout = layout
        self.sessions_dir = str(layout.sessions_dir)
        self.root = str(layout.root) if layout.root is not None and layout.session is None else None
        self.only = layout.session
        self.memory_path = str(layout.memory_path) if layout.memory_path is not None else None
        self.poll = poll
        self.quiet_ms = quiet_ms
        self.debounce_ms = debounce_ms
        self.tmp_grace = tmp_grace
        self.settle = tmp_grace if settle is None else settle
        self.poll_interval = poll_interval
        self.max_watches = max_watches if max_watches is not None else _env_max_watches()
        self.fallback_reason = ""  # why everything is polled (poll mode not asked for)
        # slug -> {name: identity}: everything already reported
        self.known: dict[str, dict[str, Ident]] = {}
        # slug -> identities of a session that was moved away (or went with
        # the store): if it comes back, these steps are not new
        self.ghosts: dict[str, tuple[tuple[int, int] | None, dict[str, Ident]]] = {}
        self.dir_id: dict[str, tuple[int, int]] = {}
        self.sessions_mtime: dict[str, int] = {}
        self.memory_sig: tuple[int, int, int] | None = None
        self.pending_tmp: dict[tuple[str, str], float] = {}
        self.settling: dict[tuple[str, str], float] = {}  # in-place writes not yet reported
        # store identity: (root id, sessions id); None parts = missing
        self.store_ids: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)
        self.present_ids: tuple[tuple[int, int] | None, tuple[int, int] | None] | None = None
        self.store_gone = False
        self.next_store_check = 0.0
        # inotify state
        self.inotify: ino.Inotify | None = None
        self.root_wd: int | None = None
        self.parent_wd: int | None = None
        self.sessions_wd: int | None = None
        self.wd_slugs: dict[int, set[str]] = {}
        self.slug_wd: dict[str, int] = {}
        self.watch_count = 0
        self.polled: dict[str, str] = {}  # key (slug, _SESSIONS_KEY, _ROOT_KEY) -> why not watched
        self.symlinked: set[str] = set()
        self.freed = 0
        self.next_poll = 0.0
        self._raw: list[ino.RawEvent] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopped = False
        self.ready = threading.Event()  # set once watched and scanned
        self.batches = 0
        self._described = ("", "")

    # -- public --------------------------------------------------------------

    @property
    def mode(self) -> str:
        if self.inotify is None:
            return "poll"
        return "inotify + poll" if self.polled else "inotify"

    @property
    def reason(self) -> str:
        if self.inotify is None:
            return self.fallback_reason
        parts = []
        if self.polled:
            whys = sorted(set(self.polled.values()))
            n = len(self.polled)
            parts.append(f"{n} dir{'' if n == 1 else 's'} polled: {', '.join(whys)}")
        if self.symlinked:
            n = len(self.symlinked)
            parts.append(f"{n} symlinked session dir{'' if n == 1 else 's'} watched alone, not followed")
        return "; ".join(parts)

    def describe(self) -> str:
        r = self.reason
        return f"{self.mode} ({r})" if r else self.mode

    def _is_stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop the event stream (callable from any thread)."""
        self._stopped = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # loop already closed
                pass

    async def events(self, initial: bool = False) -> AsyncIterator[list[StoreEvent]]:
        """Yield lists of events until ``stop()``.

        The first yield is the initial state (SessionAdded/StepsAdded for all
        that exists) when ``initial`` is true; otherwise the initial scan only
        primes the de-duplication and nothing is yielded for it.
        """
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if not self.poll:
            try:
                self._start_inotify()
            except OSError as e:
                self._fall_back(f"inotify unavailable: {e.strerror or e}")
        try:
            # big stores take a while to scan: off the event loop (a TUI's)
            first = await asyncio.to_thread(self._initial_scan)
            self.ready.set()
            if initial and first:
                yield first
            state = self._state_change()
            if state:
                yield state
            while not self._stopped:
                await self._wait(self._next_timeout())
                if self._stopped:
                    break
                if self._raw:
                    await self._coalesce()
                out = self._process(self._take_raw())
                now = time.monotonic()
                if self.inotify is None or self.polled:
                    if now >= self.next_poll:
                        self.next_poll = now + self.poll_interval
                        out.extend(self._poll_once())
                if now >= self.next_store_check:
                    self.next_store_check = now + (self.poll_interval if self.store_gone else STORE_CHECK)
                    out.extend(self._check_store())
                    out.extend(self._check_memory())
                out.extend(self._expire())
                if self.freed and self.polled:
                    out.extend(self._promote())
                out.extend(self._state_change())
                if out:
                    self.batches += 1
                    yield out
        finally:
            self._stopped = True
            self._stop_inotify()

    # -- waiting -------------------------------------------------------------------

    async def _wait(self, timeout: float | None) -> None:
        wake = self._wake
        assert wake is not None
        if self._raw or self._stopped:
            return
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _coalesce(self) -> None:
        """Let a burst finish: until ``quiet_ms`` pass without new events."""
        start = time.monotonic()
        limit = self.debounce_ms / 1000
        while not self._stopped:
            n = len(self._raw)
            await asyncio.sleep(self.quiet_ms / 1000)
            if len(self._raw) == n or time.monotonic() - start >= limit:
                return

    def _take_raw(self) -> list[ino.RawEvent]:
        raw, self._raw = self._raw, []
        return raw

    def _next_timeout(self) -> float:
        now = time.monotonic()
        due = [self.next_store_check]
        if self.inotify is None or self.polled:
            due.append(self.next_poll)
        if self.pending_tmp:
            due.append(min(self.pending_tmp.values()))
        if self.settling:
            due.append(min(self.settling.values()))
        return max(0.0, min(due) - now) + 0.001

    # -- inotify ---------------------------------------------------------------------

    def _start_inotify(self) -> None:
        self.inotify = ino.Inotify()
        assert self._loop is not None
        self._loop.add_reader(self.inotify.fd, self._on_readable)
        self.wd_slugs, self.slug_wd, self.watch_count = {}, {}, 0
        self.root_wd = self.sessions_wd = None
        self.polled.clear()
        self.symlinked.clear()
        self.parent_wd = None
        if self.root is not None:
            self.root_wd = self._add_watch(_ROOT_KEY, self.root, _DIR_MASK)
        self.sessions_wd = self._add_watch(_SESSIONS_KEY, self.sessions_dir, _SESSIONS_MASK)
        if self.store_gone:
            # while the store is gone, its parent says at once when it is back
            self.parent_wd = self._add_watch(_PARENT_KEY, os.path.dirname(self.root or self.sessions_dir), ino.IN_CREATE | ino.IN_MOVED_TO | ino.IN_ONLYDIR)

    def _stop_inotify(self) -> None:
        i, self.inotify = self.inotify, None
        if i is None:
            return
        if self._loop is not None:
            try:
                self._loop.remove_reader(i.fd)
            except Exception:  # loop closing
                pass
        i.close()
        self._raw = []

    def _restart_inotify(self) -> None:
        """New store directories: drop every watch (they follow the old inodes)."""
        self._stop_inotify()
        try:
            self._start_inotify()
        except OSError as e:
            self._fall_back(f"inotify unavailable: {e.strerror or e}")

    def _on_readable(self) -> None:
        i = self.inotify
        if i is None:
            return
        try:
            self._raw.extend(i.read())
        except OSError as e:
            self._stop_inotify()
            self._fall_back(f"inotify failed: {e.strerror or e}")
        if self._wake is not None:
            self._wake.set()

    def _add_watch(self, key: str, path: str, mask: int) -> int | None:
        """A watch on ``path``, or None (and the key is polled) if it cannot be had."""
        i = self.inotify
        if i is None:
            return None
        try:
            if self.max_watches is not None and self.watch_count >= self.max_watches:
                raise OSError(errno.ENOSPC, f"watch budget of {self.max_watches} reached", path)
            wd = i.add_watch(path, mask)
        except OSError as e:
            if key == _PARENT_KEY or (e.errno == errno.ENOENT and key in (_ROOT_KEY, _SESSIONS_KEY)):
                return None  # the store is gone: its identity check (every poll_interval) watches it again
            self.polled[key] = _why(e)
            return None
        self.watch_count += 1
        self.polled.pop(key, None)
        return wd

    def _watch_session(self, slug: str) -> None:
        if self.inotify is None or slug in self.slug_wd:
            return
        path = os.path.join(self.sessions_dir, slug)
        if os.path.islink(path):
            # inotify watches the link's target, that directory alone: never a walk
            self.symlinked.add(slug)
        wd = self._add_watch(slug, path, _SESSION_MASK)
        if wd is None:
            return
        self.slug_wd[slug] = wd
        self.wd_slugs.setdefault(wd, set()).add(slug)

    def _unwatch_session(self, slug: str) -> None:
        self.polled.pop(slug, None)
        self.symlinked.discard(slug)
        wd = self.slug_wd.pop(slug, None)
        if wd is None:
            return
        owners = self.wd_slugs.get(wd)
        if owners is not None:
            owners.discard(slug)
            if not owners:
                del self.wd_slugs[wd]
                if self.inotify is not None:
                    self.inotify.rm_watch(wd)
                self.watch_count -= 1
                self.freed += 1

    def _promote(self) -> list[StoreEvent]:
        """Watches were freed: watch polled session dirs again (then look at them once)."""
        out: list[StoreEvent] = []
        budget, self.freed = self.freed, 0
        for slug in [k for k in self.polled if not k.startswith("\0")][:budget]:
            self.polled.pop(slug, None)
            self._watch_session(slug)
            if slug not in self.polled and slug in self.known:
                out.extend(self._sync_session(slug))
        return out

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        self.polled.clear()
        self.symlinked.clear()

    def _state_change(self) -> list[StoreEvent]:
        now = (self.mode, self.reason)
        if now == self._described:
            return []
        first = self._described == ("", "")
        self._described = now
        if first and now == ("inotify", ""):
            return []  # the plain case needs no word
        return [WatcherState(*now)]

    # -- raw events -> store events ----------------------------------------------------

    def _process(self, raw: list[ino.RawEvent]) -> list[StoreEvent]:
        if not raw:
            return []
        store_check = overflow = memory = False
        dirs: set[str] = set()
        dir_deleted: set[str] = set()
        dir_moved: set[str] = set()
        touched: dict[str, set[str]] = {}
        deleted: dict[str, set[str]] = {}
        now = time.monotonic()
        sessions_name = os.path.basename(self.sessions_dir)
        for ev in raw:
            mask, name = ev.mask, ev.name
            if mask & ino.IN_Q_OVERFLOW:
                overflow = True
                continue
            if ev.wd == self.parent_wd and self.parent_wd is not None:
                if name == os.path.basename(self.root or self.sessions_dir):
                    store_check = True
                continue
            if ev.wd == self.root_wd and self.root_wd is not None:
                if (not name and mask & _SELF) or name == sessions_name:
                    store_check = True
                elif name.startswith("memory.db"):
                    memory = True
                continue
            if ev.wd == self.sessions_wd and self.sessions_wd is not None:
                if not name:
                    if mask & _SELF:
                        store_check = True
                    continue
                if self.only is not None and name != self.only:
                    continue
                dirs.add(name)
                if mask & ino.IN_DELETE:
                    dir_deleted.add(name)
                if mask & ino.IN_MOVED_FROM:
                    dir_moved.add(name)
                continue
            slugs = self.wd_slugs.get(ev.wd)
            if not slugs:
                continue  # a watch dropped meanwhile
            if mask & ino.IN_IGNORED:
                for slug in list(slugs):
                    if self.slug_wd.get(slug) == ev.wd:
                        del self.slug_wd[slug]
                del self.wd_slugs[ev.wd]
                self.watch_count -= 1
                self.freed += 1
                dirs.update(slugs)
                continue
            for slug in slugs:
                if not name:
                    if mask & ino.IN_DELETE_SELF:
                        dir_deleted.add(slug)
                        dirs.add(slug)
                    elif mask & ino.IN_MOVE_SELF:
                        dir_moved.add(slug)
                        dirs.add(slug)
                    continue
                key = (slug, name)
                if TMP_MARK not in name:
                    if mask & (ino.IN_CREATE | ino.IN_MODIFY):
                        # written in place: report once it settles
                        self.settling[key] = now + self.settle
                        continue
                    if mask & (ino.IN_CLOSE_WRITE | ino.IN_MOVED_TO | ino.IN_DELETE | ino.IN_MOVED_FROM):
                        # the writer is done with it (closed, or renamed it in or away)
                        self.settling.pop(key, None)
                if mask & (ino.IN_DELETE | ino.IN_MOVED_FROM):
                    deleted.setdefault(slug, set()).add(name)
                touched.setdefault(slug, set()).add(name)
        out: list[StoreEvent] = []
        if store_check and self.only is None:
            changed = self._check_store()
            if changed:
                return changed + self._check_memory()  # everything else here was about the old directories
        if overflow:
            return self._resync() + self._check_memory()
        if self.only is not None:
            dirs = {d for d in dirs if d == self.only}
            touched = {k: v for k, v in touched.items() if k == self.only}
        for slug in sorted(dirs | set(touched)):
            out.extend(self._session_touched(slug, slug in dirs, touched.get(slug, set()), deleted.get(slug, set()), slug in dir_deleted, slug in dir_moved))
        if memory or touched:
            out.extend(self._check_memory())
        return out

    def _session_touched(self, slug: str, dir_event: bool, names: set[str], deleted: set[str], dir_deleted: bool, dir_moved: bool) -> list[StoreEvent]:
        path = os.path.join(self.sessions_dir, slug)
        did = _dir_id(path)
        out: list[StoreEvent] = []
        if did is None:
            return self._remove_session(slug, moved=dir_moved and not dir_deleted)
        if slug in self.known and (dir_deleted or did != self.dir_id.get(slug)):
            # deleted (or moved away) and something is there again already
            out.extend(self._remove_session(slug, moved=not dir_deleted))
        if slug not in self.known:
            # a new directory is scanned whole: its first files can come
            # before its watch
            return out + self._add_session(slug)
        if dir_event or slug not in self.slug_wd:
            out.extend(self._sync_session(slug))
            return out
        return out + self._touch(slug, names, deleted)

    # -- sessions ----------------------------------------------------------------------

    def _session_slugs(self) -> list[str] | None:
        if self.only is not None:
            return [self.only] if _dir_id(os.path.join(self.sessions_dir, self.only)) is not None else []
        try:
            with os.scandir(self.sessions_dir) as it:
                return [e.name for e in it if _is_dir(e)]
        except OSError:
            return None

    def _initial_scan(self) -> list[StoreEvent]:
        self.store_ids = self._current_store_ids()
        self.present_ids = self.store_ids if self._store_present(self.store_ids) else None
        self.store_gone = self.only is None and self.present_ids is None
        out: list[StoreEvent] = []
        for slug in sorted(self._session_slugs() or []):
            out.extend(self._add_session(slug, initial=True))
        self.memory_sig = self._memory_sig()
        self.next_store_check = time.monotonic() + STORE_CHECK
        return out

    def _add_session(self, slug: str, initial: bool = False) -> list[StoreEvent]:
        path = os.path.join(self.sessions_dir, slug)
        self._watch_session(slug)  # first: what lands after this is an event
        did = _dir_id(path)
        names = _scan(path, self._is_stopped) if initial else _scan_settled(path, {})
        if names is None or did is None:
            self._unwatch_session(slug)
            return []
        self.dir_id[slug] = did
        known = self.known[slug] = {}
        ghost_dir, ghost = self.ghosts.pop(slug, (None, {}))
        back = ghost_dir == did  # the same directory is back: a name whose file differs was rewritten
        try:
            self.sessions_mtime[slug] = os.stat(path).st_mtime_ns
        except OSError:
            pass
        out: list[StoreEvent] = [SessionAdded(slug)]
        steps, changed, others = [], [], []
        now = time.monotonic()
        for name, ident in names.items():
            seen = ghost.get(name)
            if TMP_MARK in name and not initial and seen != ident:
                # Maybe a write in flight (also in a brand-new directory):
                # report it only if it stays. At start-up nothing is in flight
                # as far as we can know, so it is taken as it is.
                self.pending_tmp.setdefault((slug, name), now + self.tmp_grace)
                continue
            known[name] = ident
            if seen == ident:
                continue  # reported before the session went away: the same file
            if name == "meta":
                continue
            if _is_step(name):
                (changed if back and seen is not None else steps).append(name)
            else:
                others.append(name)
        if steps:
            out.append(StepsAdded(slug, sorted(steps, key=load_order_key)))
        if changed:
            out.append(StepsChanged(slug, sorted(changed, key=load_order_key)))
        if others:
            out.append(OtherChanged(slug, sorted(others)))
        return out

    def _sync_session(self, slug: str) -> list[StoreEvent]:
        """Compare a known session with its directory now (poll, rescan)."""
        path = os.path.join(self.sessions_dir, slug)
        names = _scan_settled(path, self.known[slug])
        if names is None:
            # Gone (or unlistable) just now. Where sessions/ is watched, its
            # events (or the store's identity check) say what happened; a
            # look that falls into a rename away and back must not drop it.
            return self._remove_session(slug, moved=True) if self._presence_polled() else []
        try:
            self.sessions_mtime[slug] = os.stat(path).st_mtime_ns
        except OSError:
            pass
        known = self.known[slug]
        touched = {n for n in names if known.get(n) != names[n]} | {n for n in known if n not in names}
        touched = {n for n in touched if (slug, n) not in self.settling}
        return self._touch(slug, touched, idents=names) if touched else []

    def _remove_session(self, slug: str, moved: bool) -> list[StoreEvent]:
        self._unwatch_session(slug)
        for table in (self.pending_tmp, self.settling):
            for key in [k for k in table if k[0] == slug]:
                del table[key]
        known = self.known.pop(slug, None)
        self.sessions_mtime.pop(slug, None)
        did = self.dir_id.pop(slug, None)
        if known is None:
            return []
        if moved:
            self.ghosts[slug] = (did, known)
        else:
            self.ghosts.pop(slug, None)
        return [SessionRemoved(slug, moved)]

    def _touch(self, slug: str, names: Iterable[str], deleted: set[str] | frozenset = frozenset(), idents: dict[str, Ident] | None = None) -> list[StoreEvent]:
        """Check touched names of one session against the disk.

        ``deleted``: names with a "deleted" event in this batch; if such a
        name exists now it was replaced, whatever its identity says.
        ``idents``: a fresh listing of the directory (else each name is lstat'ed)."""
        sdir = os.path.join(self.sessions_dir, slug)
        known = self.known.get(slug)
        if known is None:
            return []
        added, changed, removed, others = [], [], [], []
        meta = False
        now = time.monotonic()
        for name in names:
            ident = idents.get(name) if idents is not None else _lident(os.path.join(sdir, name))
            old = known.get(name)
            if TMP_MARK in name and old is None:
                if ident is not None:
                    self.pending_tmp.setdefault((slug, name), now + self.tmp_grace)
                else:
                    self.pending_tmp.pop((slug, name), None)
                continue
            if ident is None:
                if old is not None:
                    del known[name]
                    if name == "meta":
                        meta = True
                    elif _is_step(name):
                        removed.append(name)
                    else:
                        others.append(name)
                continue
            if old == ident and name != "meta" and name not in deleted:
                continue  # already reported (the initial scan raced the event)
            known[name] = ident
            if name == "meta":
                # meta's inode is reused by its atomic rewrites: a touched
                # meta is always re-read
                meta = True
            elif _is_step(name):
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

    def _resync(self) -> list[StoreEvent]:
        """Every session against its directory (after an inotify queue overflow)."""
        out: list[StoreEvent] = []
        slugs = self._session_slugs()
        present = set(slugs or [])
        for slug in sorted(set(self.known) - present):
            out.extend(self._remove_session(slug, moved=True))
        for slug in sorted(present):
            path = os.path.join(self.sessions_dir, slug)
            if slug in self.known and self.dir_id.get(slug) != _dir_id(path):
                out.extend(self._remove_session(slug, moved=True))
            out.extend(self._add_session(slug) if slug not in self.known else self._sync_session(slug))
        return out

    # -- store identity ------------------------------------------------------------------

    def _current_store_ids(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        return (_dir_id(self.root) if self.root is not None else None, _dir_id(self.sessions_dir))

    def _store_present(self, ids: tuple) -> bool:
        return ids[1] is not None and (self.root is None or ids[0] is not None)

    def _check_store(self) -> list[StoreEvent]:
        """Compare the root's and sessions/'s identity with what we follow; act on a change.

        Watches are rebuilt before the identity is read again: a store that
        appears in between is then either seen by that read (and handled
        here, in the next round) or announced by the new watches."""
        if self.only is not None:
            return []
        out: list[StoreEvent] = []
        for _ in range(4):
            out.extend(self._check_store_once())
            if self._current_store_ids() == self.store_ids:
                break
        return out

    def _check_store_once(self) -> list[StoreEvent]:
        ids = self._current_store_ids()
        if ids == self.store_ids:
            return []
        before = self.store_ids
        self.store_ids = ids
        path = self.root if self.root is not None else self.sessions_dir
        out: list[StoreEvent] = []
        was_present = self._store_present(before)
        if not self._store_present(ids):
            self.store_gone = True
            self._restart_inotify()  # watch what is there now (a new root, not yet its sessions/)
            if not was_present:
                return []  # still gone
            out.append(StoreReplaced("gone", path, f"{path} was moved away or deleted"))
            for slug in sorted(self.known):
                out.extend(self._remove_session(slug, moved=True))
            return out
        state = "back" if ids == self.present_ids else "replaced"
        first = self.present_ids is None  # appeared for the first time: nothing to say
        self.present_ids = ids
        self.store_gone = False
        what = "the same store is back" if state == "back" else "another directory is there now"
        if not first:
            out.append(StoreReplaced(state, path, f"{path}: {what}; rescanned"))
        self._restart_inotify()
        for slug in sorted(self.known):
            out.extend(self._remove_session(slug, moved=True))
        for slug in sorted(self._session_slugs() or []):
            out.extend(self._add_session(slug))
        self.memory_sig = None  # the new store's memory.db is looked at afresh
        return out

    def _memory_sig(self) -> tuple[int, int, int] | None:
        if self.memory_path is None:
            return None
        try:
            st = os.stat(self.memory_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _check_memory(self) -> list[StoreEvent]:
        sig = self._memory_sig()
        if sig != self.memory_sig:
            self.memory_sig = sig
            return [MemoryChanged()]
        return []

    # -- timers: tmp grace, in-place settle ---------------------------------------------

    def _expire(self) -> list[StoreEvent]:
        now = time.monotonic()
        out: list[StoreEvent] = []
        settled: dict[str, list[str]] = {}
        for key in [k for k, t in self.settling.items() if t <= now]:
            del self.settling[key]
            settled.setdefault(key[0], []).append(key[1])
        for slug, names in sorted(settled.items()):
            if slug in self.known:
                out.extend(self._touch(slug, names))
        if not self.pending_tmp:
            return out
        by_slug: dict[str, list[str]] = {}
        for key in [k for k, t in self.pending_tmp.items() if t <= now]:
            del self.pending_tmp[key]
            slug, name = key
            known = self.known.get(slug)
            ident = _lident(os.path.join(self.sessions_dir, slug, name))
            if known is None or ident is None:
                continue
            known[name] = ident
            by_slug.setdefault(slug, []).append(name)
        for slug, names in sorted(by_slug.items()):
            steps = sorted((n for n in names if _is_step(n)), key=load_order_key)
            others = sorted(n for n in names if not _is_step(n))
            if steps:
                out.append(StepsAdded(slug, steps))
            if others:
                out.append(OtherChanged(slug, others))
        return out

    # -- polling -----------------------------------------------------------------------

    def _presence_polled(self) -> bool:
        """Whether sessions come and go by polling (no watch on sessions/)."""
        return self.inotify is None or _SESSIONS_KEY in self.polled

    def _poll_once(self) -> list[StoreEvent]:
        """Look at what is not watched: everything in poll mode, else the polled dirs."""
        out: list[StoreEvent] = []
        everything = self.inotify is None
        if everything or _SESSIONS_KEY in self.polled:
            slugs = self._session_slugs()
            if slugs is not None:
                present = set(slugs)
                for slug in sorted(set(self.known) - present):
                    out.extend(self._remove_session(slug, moved=True))
                for slug in sorted(present - set(self.known)):
                    out.extend(self._add_session(slug))
        targets = list(self.known) if everything else [k for k in self.polled if k in self.known]
        for slug in sorted(targets):
            path = os.path.join(self.sessions_dir, slug)
            did = _dir_id(path)
            if did != self.dir_id.get(slug):
                if self._presence_polled():
                    out.extend(self._remove_session(slug, moved=True))
                    if did is not None:
                        out.extend(self._add_session(slug))
                continue  # else sessions/'s events say it
            try:
                mt = os.stat(path).st_mtime_ns
            except OSError:
                continue
            # Re-list when the dir changed, and keep re-listing recently
            # changed dirs for a moment (coarse mtime granularity).
            if mt != self.sessions_mtime.get(slug) or time.time_ns() - mt < 2_000_000_000:
                out.extend(self._sync_session(slug))
        if everything:
            out.extend(self._check_memory())
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
