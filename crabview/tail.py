"""``crabview tail``: print the last steps, then follow new ones as they land.

Watcher batches go through the shared live path (``store/live.py``); this
module only decides what to print: each step once, a rewritten step again
(marked), and one line (plus a JSON record) when the store itself is
replaced, moved away or back.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import sys
from typing import Any, Callable, TextIO

from .progress import Progress
from .render.jsonenc import dumps
from .render import output
from .render.safe import one_line, visible
from .render.text import KIND_GLYPH, ToolIndex, step_json, summary
from .store import models as m
from .store.layout import STEP_PREFIX, is_utf8_name, load_order_key
from .store.live import LiveSessions
from .store.session import Session
from .store.store import Store
from .store.watch import StoreReplaced, StoreWatcher

STORE_NOTES = {
    "gone": "store {path} is gone (moved away or deleted); following it when it comes back",
    "replaced": "store {path} was replaced by another directory: rescanned; its steps are shown as new",
    "back": "store {path} is back: rescanned; steps already shown are not shown again",
}


def recent_steps(store: Store, slugs: list[str], n: int, progress: Callable[[int, int], None] | None = None) -> list[tuple[str, str]]:
    """The ``n`` most recent step files of these sessions by mtime, oldest first.

    Ties (coarse file times) go by load order within a session. One stat
    per step file, no decoding.
    """
    heap: list[tuple[int, str, bytes, str]] = []
    for k, slug in enumerate(slugs):
        if progress is not None:
            progress(k, len(slugs))
        try:
            it = os.scandir(store.session_path(slug))
        except OSError:
            continue
        with it:
            for e in it:
                name = e.name
                if not name.startswith(STEP_PREFIX) or not is_utf8_name(name):
                    continue
                try:
                    mt = e.stat(follow_symlinks=False).st_mtime_ns
                except OSError:
                    continue
                item = (mt, slug, load_order_key(name), name)
                if len(heap) < n:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
    return [(slug, name) for _mt, slug, _k, name in sorted(heap)]


class Tailer:
    """Keeps the followed sessions loaded and prints steps as one-liners or JSON."""

    def __init__(self, store: Store, out: TextIO, as_json: bool, prefix: bool, err: TextIO | None = None):
        self.store = store
        self.out = out
        self.err = err if err is not None else sys.stderr
        self.as_json = as_json
        self.prefix = prefix
        self.live = LiveSessions(store, open_on_steps=True)
        self.tools: dict[str, ToolIndex] = {}
        # slug -> names already printed: a step is printed once, whether it
        # came from the initial lines or from the watcher (the two overlap
        # for files written while we start up).
        self.shown: dict[str, set[str]] = {}
        self.printed = 0
        self.described = ""  # the watch mode last said on stderr

    @property
    def sessions(self) -> dict[str, Session]:
        return self.live.sessions

    def session(self, slug: str) -> Session:
        s = self.live.open(slug)
        if slug not in self.tools:
            self.tools[slug] = ToolIndex(s.steps)
        return s

    def line(self, s: Session, i: int, rewritten: bool = False) -> str:
        st = s.steps[i]
        if self.as_json:
            d = step_json(st, s, i)
            d["slug"] = s.slug
            if rewritten:
                d["rewritten"] = True
            # the one inert encoder: unsafe characters (and the lone
            # surrogates of undecodable slugs) become \uXXXX escapes
            return dumps(d)
        tools = self.tools.get(s.slug)
        if tools is not None:
            tools.add(st)
        head = f"{visible(s.slug, multiline=False)} " if self.prefix else ""
        mark = " (rewritten: the file changed after it was shown; the daemon never rewrites a step)" if rewritten else ""
        if st.is_boundary and s.boundary is not None and s.boundary.index == i:
            if st.kind == m.KIND_COMPACT:
                found = "found" if s.archive_found else "MISSING from memory.db"
                text = f"══ compact boundary → archive {visible(st.value.archive_name, multiline=False)} ({found}); replay now starts here"
            else:
                text = "══ legacy compact boundary (inline summary, no archive); replay now starts here"
            return f"{head}{one_line(st.name, 200)} {text}{mark}"
        if st.kind == m.KIND_ENTRY and not s.is_replayed(i):
            mark = " (not replayed)" + mark
        return f"{head}{KIND_GLYPH[st.kind]} {one_line(st.name, 200)} {summary(st, tools, 160)}{mark}"

    def emit(self, s: Session, indices: list[int], rewritten: bool = False) -> None:
        shown = self.shown.setdefault(s.slug, set())
        if not rewritten:
            indices = [i for i in indices if s.steps[i].name not in shown]
        if not indices:
            return
        # every row passes the CLI's one output door, whatever built it
        output.lines([self.line(s, i, rewritten) for i in indices], stream=self.out)
        shown.update(s.steps[i].name for i in indices)
        self.printed += len(indices)

    def note(self, text: str) -> None:
        output.lines([f"crabview tail: {visible(text, multiline=False)}"], err=True, stream=self.err)

    def store_event(self, e: StoreReplaced, mode: str = "") -> None:
        text = STORE_NOTES.get(e.state, "store {path}: " + e.state).format(path=e.path)
        self.note(text + (f"; watching by {mode}" if mode else ""))
        if self.as_json:
            output.lines([dumps({"event": "store_replaced", "state": e.state, "path": e.path, "reason": e.reason})], stream=self.out)

    def initial(self, slugs: list[str], n: int, single: bool = False) -> None:
        """The last ``n`` steps: of the session in load order, or of the store by file time."""
        if n <= 0:
            return
        if single:
            for slug in slugs:
                s = self.session(slug)
                self.emit(s, list(range(max(0, len(s.steps) - n), len(s.steps))))
            return
        with Progress("finding the most recent steps", stream=self.err) as progress:
            picked = recent_steps(self.store, slugs, n, progress)
        for slug, name in picked:
            s = self.session(slug)
            i = s.index_of(name)
            if i is not None:
                self.emit(s, [i])

    def apply(self, events: list[Any], single: str | None) -> bool:
        """Apply one batch; returns False when the followed session is gone."""
        b = self.live.apply(events, only=[single] if single is not None else None)
        mode = ""
        for w in b.watcher:
            said = f"{w.mode} ({w.reason})" if w.reason else w.mode
            if said != self.described:
                self.described = mode = said
        for e in b.store:
            self.store_event(e, mode)
            mode = ""
        if mode:
            self.note(f"watching by {mode}")
        quiet = bool(b.store)  # the store changed: one line said it, not one per session
        removed = {r.slug for r in b.sessions_removed}
        for r in b.sessions_removed:
            self.shown.pop(r.slug, None)
            self.tools.pop(r.slug, None)
            if single is not None and r.slug == single:
                self.note(f"session {r.slug} was {'moved away' if r.moved else 'deleted'}")
                return False
            if quiet:
                continue
            if r.slug in b.sessions_added:
                self.note(f"session {r.slug} was {'replaced' if r.moved else 'deleted and created again'}")
            else:
                self.note(f"session {r.slug} was {'moved away' if r.moved else 'deleted'}")
        if single is None and not quiet:
            for slug in b.sessions_added:
                if slug not in removed:
                    self.note(f"new session {slug}")
        for slug, u in b.updates.items():
            s = self.live.sessions.get(slug)
            if s is None:
                continue
            if slug not in self.tools:
                self.tools[slug] = ToolIndex(s.steps)
            if u.added:
                idx = [s.index_of(nm) for nm in sorted(set(u.added), key=load_order_key)]
                self.emit(s, [i for i in idx if i is not None])
            if u.rewritten:
                idx = [s.index_of(nm) for nm in sorted(set(u.rewritten), key=load_order_key)]
                self.emit(s, [i for i in idx if i is not None], rewritten=True)
        return True


def run_tail(store: Store, n: int, follow: bool, as_json: bool, poll: bool = False, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    single = store.layout.session
    tailer = Tailer(store, out, as_json, prefix=single is None)
    if not follow:
        tailer.initial([e.slug for e in store.session_entries()], n, single=single is not None)
        return 0

    async def follow_loop() -> int:
        watcher = StoreWatcher(store.layout, poll=poll)
        agen = watcher.events()
        # The watcher is live (watched, then scanned) before we print the
        # initial lines, so nothing written meanwhile is lost; de-duplication
        # is by name.
        first = asyncio.ensure_future(agen.__anext__())
        while not watcher.ready.is_set() and not first.done():
            await asyncio.sleep(0.005)
        slugs = [e.slug for e in store.session_entries()]
        tailer.initial(slugs, n, single=single is not None)
        tailer.described = watcher.describe()
        what = f"session {single}" if single is not None else f"{len(slugs)} session(s) under {store.sessions_dir}"
        tailer.note(f"following {what} ({tailer.described}); Ctrl-C to stop")
        try:
            batch = await first
            while True:
                if not tailer.apply(batch, single):
                    return 0
                batch = await agen.__anext__()
        except StopAsyncIteration:
            return 0
        finally:
            watcher.stop()
            await agen.aclose()

    try:
        return asyncio.run(follow_loop())
    except KeyboardInterrupt:
        return 0
