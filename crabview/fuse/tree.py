"""The mounted tree, independent of FUSE: paths to nodes, kept fresh cheaply.

``MountTree`` answers three questions — what is at a path (``lookup``),
what is in a directory (``listdir``), and the bytes of a generated file —
and nothing in it knows about libfuse, so it is tested directly too.

Freshness without a watcher: each access revalidates what it touches, at
most every ``CHECK_INTERVAL`` seconds per session. A session directory's
mtime changes whenever the daemon renames a step or meta into it, so a
``stat`` is enough to know nothing changed. Timestamps are coarse (a
kernel tick), so a directory modified in the last ``RACY_NS`` is listed
again even if its mtime looks the same ("racy" entries, as git calls
them), and files created in that window are re-``stat``ed until they
settle, which catches writers that are not atomic. Changed names are
handed to ``Session.refresh``; everything rendered is cached per session
version, so ``grep -r`` decodes each step once. The files that grow with
the session (transcript.md, replay.jsonl) are never held whole: they are
``StreamedFile``s (``streamed.py``), an index and a bounded cache.
"""

from __future__ import annotations

import os
import re
import stat as stat_mod
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..render import files as rf
from ..store import models as m
from ..render.safe import UNSAFE_LINE_CLASS
from ..store.layout import TMP_MARK, find_latest_session, parse_slug, sender_slug
from ..store.session import Session, read_file
from ..store.store import Store
from .streamed import StreamedFile

CHECK_INTERVAL = 0.05  # seconds between revalidations of one thing
MISS_INTERVAL = 0.002  # ... when a name was not found or a directory is listed
RACY_NS = 2_000_000_000  # an mtime this recent may still change within its tick
TMP_GRACE_NS = 1_000_000_000  # a tmp file is shown once it has stayed this long
NAME_MAX = 255

DIR, FILE, RAW, LINK = "dir", "file", "raw", "link"

ROOT_NAMES = ("README.txt", "problems.txt", "sessions", "archives", "by-agent")
SESSION_FILES = ("transcript.md", "replay.jsonl", "problems.txt")


@dataclass(slots=True)
class Node:
    kind: str  # dir | file | raw | link
    mtime_ns: int
    size: int = 0
    data: bytes | None = None  # file: the content
    path: str | None = None  # raw: the source file
    target: str | None = None  # link: the symlink text
    key: Any = None  # raw: the stat key the size came from
    stream: StreamedFile | None = None  # file: rendered on demand instead of ``data``


def _stat_key(path: str | os.PathLike[str]) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _racy(mtime_ns: int) -> bool:
    return time.time_ns() - mtime_ns < RACY_NS


def fit_name(name: str) -> str:
    """A directory entry name the kernel accepts (at most 255 bytes)."""
    b = name.encode("utf-8", "surrogateescape")
    if len(b) <= NAME_MAX:
        return name
    import hashlib

    tag = "~" + hashlib.sha1(b).hexdigest()[:10]
    dot = name.rfind(".", max(0, len(name) - 24))
    suffix = name[dot:] if dot > 0 else ""
    keep = NAME_MAX - len(tag.encode()) - len(suffix.encode("utf-8", "surrogateescape"))
    head = b[:keep].decode("utf-8", "ignore")
    return head + tag + suffix


_NAME_UNSAFE = re.compile(f"[/%{UNSAFE_LINE_CLASS}]")


def _pct(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8", "surrogateescape" if "\udc80" <= m.group(0) <= "\udcff" else "surrogatepass"))


def safe_component(name: str) -> str:
    """A store-provided string as one path component, by construction safe
    to list in a terminal: '/', '%', NUL and every character
    ``render.safe.visible`` would touch (controls, newlines, C1, DEL,
    bidi and invisible characters, lone surrogates) are percent-encoded as
    their UTF-8 bytes. Injective ('%' itself is encoded), so two store
    names never share a mount name; '.' and '..' become '%2E' forms."""
    s = _NAME_UNSAFE.sub(_pct, name) if _NAME_UNSAFE.search(name) else name
    if s in ("", ".", ".."):
        s = s.replace(".", "%2E") or "%00"
    return s


def mount_name(name: str) -> str:
    """The directory entry the mount shows for a store name."""
    return fit_name(safe_component(name))


def _node_locked(fn: Any) -> Any:
    """Run a SessionNode method under that session's own lock: a slow
    rendering in one session never blocks readers of another (the mount
    serves requests on several threads)."""

    def wrapper(self: "SessionNode", *a: Any, **kw: Any) -> Any:
        with self.lock:
            return fn(self, *a, **kw)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


RAW_PREFIX = "step-"
STEP_CACHE_BYTES = 64 << 20  # rendered steps/ files kept per session


def _outside(path: str, root: str) -> str | None:
    """Where ``path`` leads if that is outside ``root`` (links followed), else None."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
        return None
    return real


class SessionNode:
    """One session directory, loaded on first use and refreshed by name."""

    def __init__(self, tree: "MountTree", slug: str, path: str):
        self.lock = threading.RLock()
        self.tree = tree
        self.slug = slug
        self.path = path
        self.session: Session | None = None
        self.dir_key: tuple[int, int, int, int] | None = None
        self.meta_key: tuple[int, int, int, int] | None = None
        self.names: set[str] = set()
        self.racy: dict[str, tuple[int, int, int, int] | None] = {}
        self.deferred: set[str] = set()  # young tmp files not shown yet
        self.checked = -1.0
        self.version = 0
        self.gone = False
        self._files: dict[str, bytes | StreamedFile] = {}
        self._files_version = -1
        self._steps: dict[str, tuple[Any, ...]] = {}
        self._steps_bytes = 0
        self._step_names: dict[str, int] = {}
        self._step_names_version = -1
        self._raw_names: dict[str, str] = {}
        self._raw_names_version = -1
        self._mtimes: dict[str, tuple[Any, int]] = {}

    # -- freshness ---------------------------------------------------------------

    @_node_locked
    def revalidate(self, force: bool = False, interval: float = CHECK_INTERVAL) -> Session | None:
        now = time.monotonic()
        if not force and self.session is not None and now - self.checked < interval:
            return self.session
        self.checked = now
        dir_key = _stat_key(self.path)
        if dir_key is None:
            self.gone = True
            return self.session
        self.gone = False
        meta_key = _stat_key(os.path.join(self.path, "meta"))
        s = self.session
        if s is None or self.dir_key is None or dir_key[2] != self.dir_key[2]:
            self._full_load(dir_key, meta_key)
            return self.session
        changed: set[str] = set()
        if dir_key != self.dir_key or _racy(dir_key[0]):
            try:
                names = set(os.listdir(self.path))
            except OSError:
                names = self.names
            # A tmp file younger than TMP_GRACE_NS is most likely an atomic
            # write in flight, renamed away within microseconds: show it
            # only if it stays (a crash leftover is what matters).
            young = set()
            now_ns = time.time_ns()
            for name in names - self.names:
                if TMP_MARK in name:
                    k = _stat_key(os.path.join(self.path, name))
                    if k is not None and now_ns - k[0] < TMP_GRACE_NS:
                        young.add(name)
            self.deferred = young
            names -= young
            fresh = names - self.names
            changed |= fresh | (self.names - names)
            self.names = names
            for name in fresh:  # stat before Session reads: a later write shows up as a new key
                k = _stat_key(os.path.join(self.path, name))
                if k is not None and _racy(k[0]):
                    self.racy[name] = k
        elif self.deferred:
            now_ns = time.time_ns()
            for name in list(self.deferred):
                k = _stat_key(os.path.join(self.path, name))
                if k is None:
                    self.deferred.discard(name)
                elif now_ns - k[0] >= TMP_GRACE_NS:
                    self.deferred.discard(name)
                    self.names.add(name)
                    changed.add(name)
        self.dir_key = dir_key
        if meta_key != self.meta_key:
            changed.add("meta")
            self.meta_key = meta_key
        for name, old in list(self.racy.items()):
            if name in changed:
                continue
            k = _stat_key(os.path.join(self.path, name))
            if k != old:
                changed.add(name)
                if k is None:
                    del self.racy[name]
                else:
                    self.racy[name] = k
            elif k is None or not _racy(k[0]):
                del self.racy[name]
        if changed:
            s.refresh(changed)
            self.version += 1
        return s

    def _full_load(self, dir_key: Any, meta_key: Any) -> None:
        self.dir_key, self.meta_key = dir_key, meta_key
        s = Session(Path(self.path), self.tree.store.memory)
        s.load()
        self.session = s
        self.names = set(s.entry_names)
        self.racy = {}
        if _racy(dir_key[0]):
            for name in self.names:
                k = _stat_key(os.path.join(self.path, name))
                if k is not None and _racy(k[0]):
                    self.racy[name] = k
        self.version += 1

    @_node_locked
    def bump(self) -> None:
        self.version += 1

    # -- times ---------------------------------------------------------------------

    @property
    def dir_mtime(self) -> int:
        return self.dir_key[0] if self.dir_key else self.tree.mounted_ns

    @property
    def mtime(self) -> int:
        t = self.dir_mtime
        if self.meta_key is not None and self.meta_key[0] > t:
            t = self.meta_key[0]
        return t

    def step_mtime(self, st: Any) -> int:
        got = self._mtimes.get(st.name)
        if got is not None and got[0] is st:
            return got[1]
        k = _stat_key(os.path.join(self.path, st.name))
        t = k[0] if k is not None else self.dir_mtime
        self._mtimes[st.name] = (st, t)
        return t

    # -- contents ------------------------------------------------------------------

    def _check_files(self) -> None:
        if self._files_version != self.version:
            self._files = {}
            self._files_version = self.version

    @_node_locked
    def file(self, name: str) -> bytes | StreamedFile | None:
        """A session-level generated file, or None if there is no such name.
        The files that grow with the session are ``StreamedFile``s: sized by
        one rendering pass here, their bytes rendered again as they are read."""
        s = self.revalidate()
        if s is None:
            return None
        self._check_files()
        got = self._files.get(name)
        if got is not None:
            return got
        data: bytes | StreamedFile
        if name == "transcript.md":
            data = StreamedFile(rf.transcript_pieces(s))
        elif name == "replay.jsonl":
            data = StreamedFile(rf.replay_file_pieces(s))
        elif name == "problems.txt":
            data = rf.problems_bytes(s.problems)
        elif name == "meta.json" and s.meta is not None:
            data = rf.meta_json_bytes(s)
        elif name == "meta.error.txt" and s.meta is None:
            raw = None
            if self.not_served("meta") is None:
                raw, _ = read_file(os.path.join(self.path, "meta"))
            data = rf.meta_error_bytes(s, raw)
        else:
            return None
        self._files[name] = data
        return data

    @_node_locked
    def file_names(self) -> list[str]:
        s = self.revalidate()
        meta = "meta.json" if s is not None and s.meta is not None else "meta.error.txt"
        return [meta, *SESSION_FILES]

    @_node_locked
    def step_names(self) -> dict[str, int]:
        """steps/ entry name -> index into Session.steps."""
        s = self.revalidate()
        if s is None:
            return {}
        if self._step_names_version != self.version:
            names: dict[str, int] = {}
            for i, st in enumerate(s.steps):
                n = mount_name(rf.step_file_name(st))
                names.setdefault(n, i)
            self._step_names = names
            self._step_names_version = self.version
        return self._step_names

    @_node_locked
    def step_file(self, name: str) -> tuple[bytes, int] | None:
        """(bytes, mtime_ns) of steps/<name>."""
        i = self.step_names().get(name)
        if i is None:  # maybe new: look again now rather than at the next periodic check
            self.revalidate(interval=MISS_INTERVAL)
            i = self.step_names().get(name)
        s = self.session
        if i is None or s is None:
            return None
        st = s.steps[i]
        key = (st, i, s.replay_start, s.load_status)
        got = self._steps.get(st.name)
        if got is not None and got[0] is st and got[1:4] == key[1:]:
            return got[4], self.step_mtime(st)
        if st.kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):
            raw = None
            note = self.not_served(st.name)
            if st.kind == m.KIND_UNPARSABLE and note is None:
                raw, _ = read_file(os.path.join(self.path, st.name))
            data = rf.unparsable_bytes(st, raw)
            if note is not None:
                data += b"\n" + note
        else:
            data = rf.step_json_bytes(st, s, i)
        old = self._steps.pop(st.name, None)
        if old is not None:
            self._steps_bytes -= len(old[4])
        self._steps[st.name] = (*key, data)
        self._steps_bytes += len(data)
        if self._steps_bytes > STEP_CACHE_BYTES:  # capped: drop the oldest renderings
            # ... but never the one just made, however big: it is about to
            # be read (evicting it made every lookup render it again).
            while len(self._steps) > 1 and self._steps_bytes > STEP_CACHE_BYTES // 2:
                oldest = next(iter(self._steps))
                self._steps_bytes -= len(self._steps.pop(oldest)[4])
        return data, self.step_mtime(st)

    @_node_locked
    def raw_names(self) -> list[str]:
        """What the daemon reads of the session directory: ``meta`` and
        ``step-`` entries (symlinks followed, as the daemon does)."""
        self.revalidate(interval=MISS_INTERVAL)
        out = []
        try:
            with os.scandir(self.path) as it:
                for e in it:
                    if e.name not in self.names:  # e.g. a young tmp file, or newer than our listing
                        continue
                    if e.name != "meta" and not e.name.startswith(RAW_PREFIX):
                        continue  # the daemon never reads it: not served
                    try:
                        if e.is_file():
                            out.append(mount_name(e.name))
                    except OSError:
                        continue
        except OSError:
            return []
        out.sort()
        return out

    def outside(self, name: str | None = None) -> str | None:
        """Where the session dir (or its entry ``name``) leads, if outside the store root."""
        p = self.path if name is None else os.path.join(self.path, name)
        return _outside(p, self.tree.real_root)

    def not_served(self, name: str) -> bytes | None:
        """The note served instead of bytes that lead outside the store."""
        where = self.outside() if self.outside() is not None else self.outside(name)
        if where is None:
            return None
        what = "this session directory" if self.outside() is not None else name
        return rf.to_bytes(
            f"{rf.visible(name, multiline=False)}: not served: {rf.visible(what, multiline=False)} is a symlink leading "
            f"outside the store root, to {rf.visible(where, multiline=False)}\n"
            "the daemon follows the link (its verdict is shown in steps/ and problems.txt); "
            "the mount does not serve files from outside the store\n"
        )

    def _store_name(self, shown: str) -> str | None:
        """The session directory entry that raw/ shows as ``shown``."""
        if shown in self.names and mount_name(shown) == shown:
            return shown
        if self._raw_names_version != self.version:
            self._raw_names = {mount_name(n): n for n in self.names}
            self._raw_names_version = self.version
        return self._raw_names.get(shown)

    @_node_locked
    def raw_node(self, shown: str) -> Node | None:
        if shown != "meta" and not shown.startswith(RAW_PREFIX):
            return None
        name = self._store_name(shown)
        if name is None and self.revalidate(interval=MISS_INTERVAL) is not None:
            name = self._store_name(shown)
        if name is None:
            return None
        p = os.path.join(self.path, name)
        try:
            st = os.stat(p)
        except OSError:
            return None
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        note = self.not_served(name)
        if note is not None:
            return Node(FILE, st.st_mtime_ns, len(note), note)
        key = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        return Node(RAW, st.st_mtime_ns, st.st_size, path=p, key=key)


def _tree_locked(fn: Any) -> Any:
    def wrapper(self: "MountTree", *a: Any, **kw: Any) -> Any:
        with self.lock:
            return fn(self, *a, **kw)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


class MountTree:
    """Everything the mount shows, for one store."""

    def __init__(self, store: Store):
        self.store = store
        self.lock = threading.RLock()
        self.mounted_ns = time.time_ns()
        root = store.layout.root
        self.root_label = str(root if root is not None else store.sessions_dir)
        self.real_root = os.path.realpath(self.root_label)
        self.readme = rf.readme_bytes(self.root_label, self.mounted_ns / 1e9)
        self.sessions: dict[str, SessionNode] = {}
        self._slug_of: dict[str, str] = {}  # shown name -> slug
        self._sessions_key: Any = "unread"
        self._sessions_checked = -1.0
        self.sessions_version = 0
        self._memory_key = _stat_key(store.layout.memory_path) if store.layout.memory_path else None
        self.memory_version = 0
        self._archives: dict[str, Any] = {}
        self._archives_version = -1
        self._by_agent: dict[str, dict[str, str]] = {}
        self._by_agent_version = -1
        self._problems: tuple[Any, bytes] | None = None

    # -- freshness -------------------------------------------------------------------

    @_tree_locked
    def revalidate(self, interval: float = CHECK_INTERVAL) -> None:
        now = time.monotonic()
        if now - self._sessions_checked < interval:
            return
        self._sessions_checked = now
        mp = self.store.layout.memory_path
        if mp is not None:
            mk = _stat_key(mp)
            if mk != self._memory_key or (mk is not None and _racy(mk[0])):
                old = self.store.memory
                mem = self.store.reload_memory()
                if mk != self._memory_key or (mem.status, mem.entries) != (old.status, old.entries):
                    self.memory_version += 1
                    for node in self.sessions.values():
                        if node.session is not None:
                            node.session.set_memory(mem)
                            node.bump()
                self._memory_key = mk
        key = _stat_key(self.store.sessions_dir)
        if key != self._sessions_key or (key is not None and _racy(key[0])):
            self._sessions_key = key
            entries = self.store.session_entries()
            fresh: dict[str, SessionNode] = {}
            for e in entries:
                node = self.sessions.get(e.slug)
                if node is None or node.path != e.path:
                    node = SessionNode(self, e.slug, e.path)
                fresh[e.slug] = node
            if fresh.keys() != self.sessions.keys():
                self.sessions_version += 1
            self.sessions = fresh
            self._slug_of = {mount_name(slug): slug for slug in fresh}

    def shown_name(self, slug: str) -> str:
        """The name sessions/ shows for a session directory."""
        return mount_name(slug)

    def session(self, shown: str) -> SessionNode | None:
        """The session that sessions/ shows as ``shown`` (its safe name)."""
        self.revalidate()
        node = self.sessions.get(self._slug_of.get(shown, ""))
        if node is None:
            self.revalidate(interval=MISS_INTERVAL)
            node = self.sessions.get(self._slug_of.get(shown, ""))
        if node is None or node.gone:
            return None
        return node

    # -- store-level contents ------------------------------------------------------------

    @_tree_locked
    def archives(self) -> dict[str, Any]:
        """archives/ entry name -> memory.db Archive entry."""
        self.revalidate()
        if self._archives_version != self.memory_version:
            out: dict[str, Any] = {}
            for e in self.store.memory.entries:
                if e.kind != "archive":
                    continue
                base = fit_name(safe_component(e.name) + ".md")
                name, k = base, 2
                while name in out:
                    name = fit_name(f"{safe_component(e.name)}~{k}.md")
                    k += 1
                out[name] = e
            self._archives = out
            self._archives_version = self.memory_version
        return self._archives

    @_tree_locked
    def by_agent(self) -> dict[str, dict[str, str]]:
        """agent -> sender -> the daemon's latest session slug (listed here)."""
        self.revalidate()
        if self._by_agent_version != self.sessions_version or not self._by_agent_fresh():
            pairs: set[tuple[str, str]] = set()
            for slug in self.sessions:
                ps = parse_slug(slug)
                if ps is None:
                    continue
                a, s = sender_slug(ps.agent), sender_slug(ps.sender)
                if a and s:
                    pairs.add((a, s))
            out: dict[str, dict[str, str]] = {}
            for a, s in sorted(pairs):
                latest = find_latest_session(self.store.sessions_dir, a, s)
                if latest is not None and latest not in self.sessions:
                    self.revalidate(interval=0.0)  # created since our listing
                if latest is not None and latest in self.sessions:
                    out.setdefault(a, {})[s] = latest
            self._by_agent = out
            self._by_agent_version = self.sessions_version
            self._by_agent_key = self._sessions_key
        return self._by_agent

    def _by_agent_fresh(self) -> bool:
        return getattr(self, "_by_agent_key", None) == self._sessions_key

    @_tree_locked
    def problems(self) -> bytes:
        self.revalidate()
        nodes = list(self.sessions.values())
        for n in nodes:
            n.revalidate()
        sig = (self.memory_version, tuple((n.slug, n.version) for n in nodes))
        if self._problems is not None and self._problems[0] == sig:
            return self._problems[1]
        problems = list(self.store.store_problems())
        for n in nodes:
            if n.session is not None and not n.gone:
                problems.extend(n.session.problems)
        data = rf.problems_bytes(problems)
        self._problems = (sig, data)
        return data

    def problems_mtime(self) -> int:
        t = self._sessions_key[0] if isinstance(self._sessions_key, tuple) else self.mounted_ns
        for n in self.sessions.values():
            t = max(t, n.mtime)
        if self._memory_key is not None:
            t = max(t, self._memory_key[0])
        return t

    # -- the two questions FUSE asks --------------------------------------------------------

    @staticmethod
    def split(path: str) -> list[str] | None:
        parts = [p for p in path.split("/") if p]
        for p in parts:
            if p in (".", "..") or "\x00" in p:
                return None
        return parts

    def lookup(self, path: str) -> Node | None:
        parts = self.split(path)
        if parts is None:
            return None
        return self._lookup(parts)  # locks: the tree's for its maps, each session's for its files

    def _dir(self, mtime: int) -> Node:
        return Node(DIR, mtime)

    def _sessions_mtime(self) -> int:
        return self._sessions_key[0] if isinstance(self._sessions_key, tuple) else self.mounted_ns

    def _lookup(self, parts: list[str]) -> Node | None:
        self.revalidate()
        n = len(parts)
        if n == 0:
            return self._dir(self._sessions_mtime())
        top = parts[0]
        if top == "README.txt":
            return Node(FILE, self.mounted_ns, len(self.readme), self.readme) if n == 1 else None
        if top == "problems.txt":
            if n != 1:
                return None
            data = self.problems()
            return Node(FILE, self.problems_mtime(), len(data), data)
        if top == "archives":
            if n == 1:
                return self._dir(self._memory_key[0] if self._memory_key else self.mounted_ns)
            if n != 2:
                return None
            e = self.archives().get(parts[1])
            if e is None:
                return None
            data = rf.archive_md_bytes(e)
            mt = self._memory_key[0] if self._memory_key else self.mounted_ns
            return Node(FILE, mt, len(data), data)
        if top == "by-agent":
            if n == 1:
                return self._dir(self._sessions_mtime())
            senders = self.by_agent().get(parts[1])
            if senders is None:
                return None
            if n == 2:
                return self._dir(self._sessions_mtime())
            slug = senders.get(parts[2])
            if slug is None:
                return None
            if n == 3:
                return self._dir(self._sessions_mtime())
            if n == 4 and parts[3] == "latest":
                node = self.sessions.get(slug)
                return Node(LINK, node.dir_mtime if node else self._sessions_mtime(), target=f"../../../sessions/{self.shown_name(slug)}")
            return None
        if top != "sessions":
            return None
        if n == 1:
            return self._dir(self._sessions_mtime())
        node = self.session(parts[1])
        if node is None:
            return None
        if n == 2:
            node.revalidate()
            return self._dir(node.dir_mtime)
        sub = parts[2]
        if n == 3:
            if sub in ("steps", "raw"):
                node.revalidate()
                return self._dir(node.dir_mtime)
            data = node.file(sub)
            if data is None:
                return None
            if isinstance(data, StreamedFile):
                return Node(FILE, node.mtime, data.size, stream=data)
            return Node(FILE, node.mtime, len(data), data)
        if n == 4 and sub == "steps":
            got = node.step_file(parts[3])
            if got is None:
                return None
            return Node(FILE, got[1], len(got[0]), got[0])
        if n == 4 and sub == "raw":
            return node.raw_node(parts[3])
        return None

    def listdir(self, path: str) -> list[tuple[str, str]] | None:
        """[(name, kind)] of a directory, or None if it is not one."""
        parts = self.split(path)
        if parts is None:
            return None
        return self._listdir(parts)

    def _listdir(self, parts: list[str]) -> list[tuple[str, str]] | None:
        self.revalidate()
        n = len(parts)
        if n == 0:
            return [("README.txt", FILE), ("problems.txt", FILE), ("sessions", DIR), ("archives", DIR), ("by-agent", DIR)]
        top = parts[0]
        if top == "sessions":
            if n == 1:
                self.revalidate(interval=MISS_INTERVAL)
                return [(self.shown_name(slug), DIR) for slug, node in self.sessions.items() if not node.gone]
            node = self.session(parts[1])
            if node is None:
                return None
            if n == 2:
                return [(f, FILE) for f in node.file_names()] + [("steps", DIR), ("raw", DIR)]
            if n == 3 and parts[2] == "steps":
                node.revalidate(interval=MISS_INTERVAL)
                return [(name, FILE) for name in node.step_names()]
            if n == 3 and parts[2] == "raw":
                return [(name, RAW) for name in node.raw_names()]
            return None
        if top == "archives" and n == 1:
            return [(name, FILE) for name in self.archives()]
        if top == "by-agent":
            ba = self.by_agent()
            if n == 1:
                return [(a, DIR) for a in ba]
            senders = ba.get(parts[1])
            if senders is None:
                return None
            if n == 2:
                return [(s, DIR) for s in senders]
            if n == 3 and parts[2] in senders:
                return [("latest", LINK)]
        return None
