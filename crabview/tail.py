"""``crabview tail``: print the last steps, then follow new ones as they land."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, TextIO

from .render.jsonenc import dumps
from .render.output import safe
from .render.safe import one_line, visible
from .render.text import KIND_GLYPH, ToolIndex, step_json, summary
from .store import models as m
from .store.session import Session
from .store.store import Store
from .store.watch import (
    MemoryChanged,
    MetaChanged,
    SessionAdded,
    SessionRemoved,
    StepsAdded,
    StepsChanged,
    StepsRemoved,
    StoreWatcher,
    WatcherState,
)


class Tailer:
    """Keeps the followed sessions loaded and prints steps as one-liners or JSON."""

    def __init__(self, store: Store, out: TextIO, as_json: bool, prefix: bool, err: TextIO | None = None):
        self.store = store
        self.out = out
        self.err = err if err is not None else sys.stderr
        self.as_json = as_json
        self.prefix = prefix
        self.sessions: dict[str, Session] = {}
        self.tools: dict[str, ToolIndex] = {}
        # slug -> names already printed: a step is printed once, whether it
        # came from the initial lines or from the watcher (the two overlap
        # for files written while we start up).
        self.shown: dict[str, set[str]] = {}
        self.printed = 0

    def session(self, slug: str) -> Session:
        s = self.sessions.get(slug)
        if s is None:
            s = self.store.load_session(slug)
            self.sessions[slug] = s
            self.tools[slug] = ToolIndex(s.steps)
        return s

    def line(self, s: Session, i: int, replaced: bool = False) -> str:
        st = s.steps[i]
        if self.as_json:
            d = step_json(st, s, i)
            d["slug"] = s.slug
            if replaced:
                d["replaced"] = True
            # the one inert encoder: unsafe characters (and the lone
            # surrogates of undecodable slugs) become \uXXXX escapes
            return dumps(d)
        tools = self.tools.get(s.slug)
        if tools is not None:
            tools.add(st)
        head = f"{visible(s.slug, multiline=False)} " if self.prefix else ""
        if st.is_boundary and s.boundary is not None and s.boundary.index == i:
            if st.kind == m.KIND_COMPACT:
                found = "found" if s.archive_found else "MISSING from memory.db"
                text = f"══ compact boundary → archive {visible(st.value.archive_name, multiline=False)} ({found}); replay now starts here"
            else:
                text = "══ legacy compact boundary (inline summary, no archive); replay now starts here"
            return f"{head}{one_line(st.name, 200)} {text}"
        mark = "" if st.kind != m.KIND_ENTRY or s.is_replayed(i) else " (not replayed)"
        if replaced:
            mark += " (replaced: a step file was rewritten under the same name)"
        return f"{head}{KIND_GLYPH[st.kind]} {one_line(st.name, 200)} {summary(st, tools, 160)}{mark}"

    def emit(self, s: Session, indices: list[int], replaced: bool = False) -> None:
        shown = self.shown.setdefault(s.slug, set())
        if not replaced:
            indices = [i for i in indices if s.steps[i].name not in shown]
        if not indices:
            return
        # every row passes the output boundary, whatever built it
        self.out.write("".join(safe(self.line(s, i, replaced)) + "\n" for i in indices))
        self.out.flush()
        shown.update(s.steps[i].name for i in indices)
        self.printed += len(indices)

    def note(self, text: str) -> None:
        self.err.write(f"crabview tail: {visible(text, multiline=False)}\n")
        self.err.flush()

    def initial(self, slugs: list[str], n: int) -> None:
        if n <= 0:
            return
        # Most recently changed sessions last, so the newest lines end the output.
        def mtime(slug: str) -> int:
            try:
                return os.stat(self.store.session_path(slug)).st_mtime_ns
            except OSError:
                return 0

        picked: list[tuple[Session, list[int]]] = []
        remaining = n
        for slug in sorted(slugs, key=mtime, reverse=True):
            s = self.session(slug)
            take = list(range(max(0, len(s.steps) - remaining), len(s.steps)))
            if take:
                picked.append((s, take))
                remaining -= len(take)
            if remaining <= 0:
                break
        for s, idx in reversed(picked):
            self.emit(s, idx)

    def apply(self, events: list[Any], single: str | None) -> bool:
        """Apply one batch; returns False when the followed session is gone."""
        added: dict[str, list[str]] = {}
        replaced: dict[str, list[str]] = {}
        refresh: dict[str, list[str]] = {}
        for e in events:
            if isinstance(e, SessionRemoved):
                self.sessions.pop(e.slug, None)
                self.shown.pop(e.slug, None)
                back = any(isinstance(x, SessionAdded) and x.slug == e.slug for x in events)
                if back:
                    self.note(f"session {e.slug} was deleted and created again")
                    continue
                self.note(f"session {e.slug} was deleted")
                if single is not None and e.slug == single:
                    return False
            elif isinstance(e, SessionAdded):
                if single is None:
                    self.note(f"new session {e.slug}")
            elif isinstance(e, StepsAdded):
                added.setdefault(e.slug, []).extend(e.names)
                refresh.setdefault(e.slug, []).extend(e.names)
            elif isinstance(e, StepsChanged):
                # The daemon never rewrites a step: this is a hand edit, or a
                # session deleted and recreated faster than we could look.
                replaced.setdefault(e.slug, []).extend(e.names)
                refresh.setdefault(e.slug, []).extend(e.names)
            elif isinstance(e, StepsRemoved):
                refresh.setdefault(e.slug, []).extend(e.names)
            elif isinstance(e, MetaChanged):
                refresh.setdefault(e.slug, []).append("meta")
            elif isinstance(e, MemoryChanged):
                mem = self.store.reload_memory()
                for s in self.sessions.values():
                    s.set_memory(mem)
            elif isinstance(e, WatcherState):
                self.note(f"watching by {e.mode}: {e.reason}")
        for slug, names in refresh.items():
            if single is not None and slug != single:
                continue
            if slug not in self.sessions:
                # Loads everything, including names whose events are still to
                # come: those are printed when their event arrives.
                s = self.session(slug)
                new = set(added.get(slug, ()))
                self.emit(s, [i for i, st in enumerate(s.steps) if st.name in new])
                continue
            s = self.sessions[slug]
            s.refresh(names)
            new = added.get(slug)
            if new:
                idx = [s.index_of(nm) for nm in sorted(set(new))]
                self.emit(s, [i for i in idx if i is not None])
            again = replaced.get(slug)
            if again:
                idx = [s.index_of(nm) for nm in sorted(set(again))]
                self.emit(s, [i for i in idx if i is not None], replaced=True)
        return True


def run_tail(store: Store, n: int, follow: bool, as_json: bool, poll: bool = False, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    single = store.layout.session
    slugs = [e.slug for e in store.session_entries()]
    tailer = Tailer(store, out, as_json, prefix=single is None)
    if not follow:
        tailer.initial(slugs, n)
        return 0

    async def follow_loop() -> int:
        watcher = StoreWatcher(store.layout, poll=poll)
        agen = watcher.events()
        # The watcher is live before we print the initial lines, so nothing
        # written meanwhile is lost; de-duplication is by name.
        first = asyncio.ensure_future(agen.__anext__())
        await asyncio.sleep(0.05)
        tailer.initial(slugs, n)
        if watcher.mode == "poll" and watcher.fallback_reason:
            tailer.note(f"inotify unavailable, polling: {watcher.fallback_reason}")
        what = f"session {single}" if single is not None else f"{len(slugs)} session(s) under {store.sessions_dir}"
        tailer.note(f"following {what} ({watcher.mode}); Ctrl-C to stop")
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
