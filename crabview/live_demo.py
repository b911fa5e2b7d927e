"""``crabview demo --live``: a simulated agent that keeps writing like the daemon.

It continues the demo store's latest Crab/user session step by step (tmp +
rename through ``DaemonWriter``): user turns with thinking and tool calls,
a compaction with its archive in memory.db every few turns, now and then a
torn (unparsable) step and a leftover tmp file. It runs in a thread that
the app starts on mount and stops on exit.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path


from .demo import BASE_TIME, DaemonWriter, turn
from .store import models as m
from .store.decode import decode_meta, encode
from .store.layout import find_latest_session
from .store.memory import load_memory


class _Stopped(Exception):
    pass


class _PacedWriter(DaemonWriter):
    """A DaemonWriter that waits between steps, like an agent thinking."""

    def __init__(self, root: Path, stop: threading.Event, delay: float):
        super().__init__(root)
        self.stop_event = stop
        self.delay = delay

    def append_raw(self, slug: str, data: bytes) -> Path:
        if self.stop_event.wait(self.delay):
            raise _Stopped()
        return super().append_raw(slug, data)


class LiveDemoWriter:
    """Start/stop a background writer on a demo store."""

    def __init__(self, root: str | os.PathLike[str], delay: float = 1.2, seed: int = 11, agent: str = "Crab", sender: str = "user"):
        self.root = Path(root)
        self.delay = delay
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.steps_written = 0
        self.error: BaseException | None = None
        self.w = _PacedWriter(self.root, self._stop, delay)
        self._adopt_memory()
        slug = find_latest_session(self.root / "sessions", agent, sender)
        if slug is None or not self._adopt_meta(slug):
            slug = self.w.create_session(agent, sender, "Live demo")
        self.slug = slug
        # timestamps from now on, so 'updated' reads as just now
        self.w.clock = max(7200.0, time.time() - BASE_TIME.timestamp())

    def _adopt_memory(self) -> None:
        """Keep the store's memory.db entries when the writer rewrites it."""
        mem = load_memory(self.root / "memory.db")
        if mem.status == "ok":
            self.w._memory = list(mem.entries)
            for e in mem.entries:
                if e.kind == "archive":
                    base, _, n = e.name.rpartition("-")
                    if n.isdigit():
                        self.w._archives[base] = max(self.w._archives.get(base, 0), int(n))

    def _adopt_meta(self, slug: str) -> bool:
        try:
            d = decode_meta((self.root / "sessions" / slug / "meta").read_bytes())
        except OSError:
            return False
        if d.meta is None:
            return False
        self.w._metas[slug] = d.meta
        # archive counter is keyed by the session slug in DaemonWriter.add_archive
        from .store.layout import sender_slug

        self.w._archives[slug] = self.w._archives.get(sender_slug(slug), 0)
        return True

    # -- control -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="crabview-live-demo", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the agent ---------------------------------------------------------------

    def _run(self) -> None:
        w, slug, rng = self.w, self.slug, self.rng
        i = 0
        try:
            while not self._stop.is_set():
                turn(w, slug, rng, i)
                i += 1
                if i % 4 == 0:
                    w.compact(slug, f"Live summary after {i} turns: the agent answered questions about builds, issues and disk usage.")
                    w.touch_meta(slug, message_count=1)
                if i % 3 == 0:
                    good = encode(m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("a reply cut short by a crash")])))
                    w.append_raw(slug, good[: len(good) // 2])  # torn write: unparsable
                if i % 5 == 0:
                    if self._stop.wait(self.delay):
                        break
                    w.leave_tmp(slug, encode(m.HistoryEntry(message=m.Message("user", [m.TextBlock("interrupted")]))), whole=False)
        except _Stopped:
            pass
        except BaseException as e:  # pragma: no cover - shown by the app as a notification
            self.error = e


__all__ = ["LiveDemoWriter"]


