"""The browser's live path: watcher batches, applied through ``store/live.py``, become messages.

``CrabviewApp`` delegates its watcher worker here. The batch is applied to
the open session off the UI thread (the files are read there); the UI
thread only receives typed messages: the refreshed session, sessions gone,
memory.db re-read, the watch mode, and the store replaced, moved away or
back.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ..store.live import LiveSessions
from ..store.store import SessionEntry, summarize
from ..store.watch import StoreWatcher
from .messages import MemoryReloaded, SessionRefreshed, SessionsRemoved, SummariesLoaded, WatcherStatus

if TYPE_CHECKING:  # pragma: no cover
    from .app import CrabviewApp


@dataclass
class StoreChanged(Message):
    """The root or sessions/ was moved away (``gone``), ``replaced``, or is ``back``."""

    state: str
    path: str
    reason: str = ""


class LiveFeed:
    """Runs the store watcher for one app and applies each batch."""

    def __init__(self, app: "CrabviewApp"):
        self.app = app
        self.live = LiveSessions(app.store)
        self.watcher: StoreWatcher | None = None
        # monotonic time the watcher was up (every later change is an event)
        self.ready_at: float | None = None

    async def run(self) -> None:
        """The watcher worker's body (the app runs it as an exclusive worker)."""
        app = self.app
        watcher = StoreWatcher(app.store.layout, poll=app.poll)
        self.watcher = app.watcher = watcher
        agen = watcher.events()
        # The mode is known once the watches are added (inside events()):
        # say it then, not before (it would read "poll" until a change).
        first = asyncio.ensure_future(agen.__anext__())
        while not watcher.ready.is_set() and not first.done():
            await asyncio.sleep(0.01)
        self.ready_at = time.monotonic()
        app.post_message(WatcherStatus(watcher.mode, watcher.reason))
        try:
            try:
                batch = await first
            except StopAsyncIteration:
                return
            while True:
                await self.apply(batch)
                try:
                    batch = await agen.__anext__()
                except StopAsyncIteration:
                    return
        finally:
            watcher.stop()
            await agen.aclose()

    async def apply(self, batch: list[Any]) -> None:
        app = self.app
        now = time.monotonic()
        cur = app.selected
        s = app.session
        # the one open session is the one on screen, once it has loaded
        self.live.sessions = {s.slug: s} if s is not None and s.slug == cur and app.loading != cur else {}
        b = await asyncio.to_thread(self.live.apply, batch)
        for w in b.watcher:
            app.post_message(WatcherStatus(w.mode, w.reason))
        if b.memory is not None:
            app.post_message(MemoryReloaded(b.memory))
        removed = [r.slug for r in b.sessions_removed if r.slug not in b.sessions_added]
        for slug in b.sessions_added:
            if b.store:  # found again by the rescan of a store that changed, not written: its files' times say
                app.live_at.pop(slug, None)
            else:
                app.live_at[slug] = now
        for slug, u in b.updates.items():
            if u.added or u.meta_changed:
                app.live_at[slug] = now
        resummarize = (set(b.updates) | set(b.sessions_added)) - set(removed)
        u = b.updates.get(cur) if cur is not None else None
        if u is not None:
            if app.loading == cur:
                app.pending_names.setdefault(cur, []).extend(u.names)
            elif u.refreshed and u.result is not None:
                res = u.result
                changed = bool(res.changed or res.removed or res.full or u.rewritten)
                app.post_message(SessionRefreshed(cur, list(res.added), changed, res.meta_changed))
            # the open session's summary is patched from the loaded session
            # (a directory scan of a 100k-step session per append costs more than the append)
            if not (u.meta_changed or cur in b.sessions_added or (set(u.names) - set(u.added) - set(u.rewritten) - set(u.removed))):
                resummarize.discard(cur)
        if removed:
            for slug in removed:
                app.live_at.pop(slug, None)
            app.post_message(SessionsRemoved(removed))
        for st in b.store:
            app.post_message(StoreChanged(st.state, st.path, st.reason))
        if resummarize and not b.store:  # a changed store is reloaded whole
            summ = await asyncio.to_thread(self.resummarize, sorted(resummarize))
            app.post_message(SummariesLoaded(summ, app._latest_for(summ), full=False))

    def resummarize(self, slugs: list[str]) -> list[Any]:
        out = []
        for slug in slugs:
            p = self.app.store.session_path(slug)
            if p.is_dir():
                out.append(summarize(SessionEntry(slug, str(p), p.is_symlink())))
        return out

    async def reconcile_open(self, s: Any) -> None:
        """Look at the open session's directory again and read what differs (a worker's body).

        For a session listed before the watcher was up: a step written in
        between is in neither the listing nor an event."""
        app = self.app

        def differs() -> list[str]:
            try:
                now = set(os.listdir(s.path))
            except OSError:
                return []  # gone: the watcher says so
            with s.lock:
                had = {st.name for st in s.steps} | s.other_names
            return sorted(now ^ had)

        names = await asyncio.to_thread(differs)
        if not names or app.session is not s:
            return
        res = await asyncio.to_thread(s.refresh, names)
        if res.added or res.removed or res.changed or res.meta_changed:
            app.post_message(SessionRefreshed(s.slug, list(res.added), bool(res.removed or res.changed), res.meta_changed))

    async def refresh_open(self, names: list[str]) -> None:
        """Names that arrived while the open session was loading (a worker's body)."""
        app = self.app
        s = app.session
        if s is None:
            return
        res = await asyncio.to_thread(s.refresh, names)
        # appends extend the rows; only a change or removal rebuilds them (1 s+ on the UI thread at 1M steps)
        app.post_message(SessionRefreshed(s.slug, list(res.added), bool(res.changed or res.removed), res.meta_changed))
