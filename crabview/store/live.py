"""Watcher events applied to loaded sessions: the one live path of ``tail`` and the TUI.

A follower keeps some sessions open (``tail`` every session it prints, the
TUI the one on screen) and hands each watcher batch to ``LiveSessions.apply``.
That re-reads exactly the names the batch touched, reloads memory.db when
it changed, drops sessions that went away, marks rewritten steps (a
``step_rewritten`` problem: the daemon never rewrites a step), and says
what happened per session, so that each front end only renders.
"""

from __future__ import annotations

from typing import Any, Iterable

import msgspec

from .memory import Memory
from .session import Session
from .store import Store
from .watch import (
    MemoryChanged,
    MetaChanged,
    OtherChanged,
    SessionAdded,
    SessionRemoved,
    StepsAdded,
    StepsChanged,
    StepsRemoved,
    StoreEvent,
    StoreReplaced,
    WatcherState,
)

REWRITTEN_REASON = "the file changed after crabview first read it (rewritten in place or replaced)"


class SessionUpdate(msgspec.Struct):
    """What one batch did to one session."""

    slug: str
    added: list[str] = []  # new steps, in load order (as the watcher reported them)
    rewritten: list[str] = []  # steps seen before whose file changed
    removed: list[str] = []
    names: list[str] = []  # every entry name the batch touched (what a refresh re-reads)
    meta_changed: bool = False
    opened: bool = False  # loaded whole for this batch (it was not open before)
    refreshed: bool = False  # an open session re-read its touched names
    result: Any = None  # the session's RefreshResult when refreshed


class LiveBatch(msgspec.Struct):
    store: list[StoreReplaced] = []
    watcher: list[WatcherState] = []
    sessions_added: list[str] = []
    sessions_removed: list[SessionRemoved] = []
    updates: dict[str, SessionUpdate] = {}  # every session with changes, open or not
    memory: Memory | None = None  # memory.db as re-read for this batch

    @property
    def slugs(self) -> set[str]:
        return set(self.updates) | set(self.sessions_added) | {r.slug for r in self.sessions_removed}


class LiveSessions:
    """The open sessions of one follower, kept current from watcher batches.

    ``open_on_steps``: a session that is not open is loaded (whole) when a
    batch brings it new steps (``tail``); otherwise only sessions handed to
    ``adopt`` are kept (the TUI's selected one).
    """

    def __init__(self, store: Store, open_on_steps: bool = False):
        self.store = store
        self.open_on_steps = open_on_steps
        self.sessions: dict[str, Session] = {}

    def open(self, slug: str) -> Session:
        s = self.sessions.get(slug)
        if s is None:
            s = self.sessions[slug] = self.store.load_session(slug)
        return s

    def adopt(self, session: Session) -> None:
        self.sessions[session.slug] = session

    def close(self, slug: str) -> None:
        self.sessions.pop(slug, None)

    def apply(self, events: Iterable[StoreEvent], only: Iterable[str] | None = None) -> LiveBatch:
        """Apply one watcher batch. ``only``: slugs this follower cares about (None: all)."""
        wanted = set(only) if only is not None else None
        batch = LiveBatch(store=[], watcher=[], sessions_added=[], sessions_removed=[], updates={})
        updates = batch.updates

        def upd(slug: str) -> SessionUpdate:
            u = updates.get(slug)
            if u is None:
                u = updates[slug] = SessionUpdate(slug, [], [], [], [])
            return u

        for e in events:
            if isinstance(e, StoreReplaced):
                batch.store.append(e)
            elif isinstance(e, WatcherState):
                batch.watcher.append(e)
            elif isinstance(e, MemoryChanged):
                batch.memory = self.store.reload_memory()
                for s in self.sessions.values():
                    s.set_memory(batch.memory)
            elif wanted is not None and e.slug not in wanted:
                continue
            elif isinstance(e, SessionRemoved):
                self.close(e.slug)
                updates.pop(e.slug, None)  # nothing before the removal counts
                batch.sessions_removed.append(e)
                if e.slug in batch.sessions_added:
                    batch.sessions_added.remove(e.slug)
            elif isinstance(e, SessionAdded):
                batch.sessions_added.append(e.slug)
            elif isinstance(e, StepsAdded):
                u = upd(e.slug)
                u.added.extend(e.names)
                u.names.extend(e.names)
            elif isinstance(e, StepsChanged):
                u = upd(e.slug)
                u.rewritten.extend(e.names)
                u.names.extend(e.names)
            elif isinstance(e, StepsRemoved):
                u = upd(e.slug)
                u.removed.extend(e.names)
                u.names.extend(e.names)
            elif isinstance(e, OtherChanged):
                upd(e.slug).names.extend(e.names)
            elif isinstance(e, MetaChanged):
                u = upd(e.slug)
                u.meta_changed = True
                u.names.append("meta")
        for slug, u in updates.items():
            s = self.sessions.get(slug)
            if s is not None:
                u.result = s.refresh(u.names)
                u.refreshed = True
            elif self.open_on_steps and (u.added or u.rewritten):
                # Loads everything, including names whose events are still
                # to come: a follower prints those when their event arrives.
                s = self.open(slug)
                u.opened = True
            if s is not None and u.rewritten:
                s.mark_rewritten(u.rewritten, REWRITTEN_REASON)
        return batch
