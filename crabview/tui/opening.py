"""Opening a session in the browser: its end on screen first, the rest as it is read.

``SessionOpener.run`` is the body of the app's exclusive "session" worker.
It drives ``store/opening.py`` and turns what it hands over into messages:
``SessionPartial`` (a stand-in holding the end of the load order, with its
view model built here, off the UI thread), ``LoadProgress`` (throttled),
and ``SessionLoaded`` (the whole session). The session being read is owned
by this worker until it is posted whole; the live watcher's names for it
wait in the app's ``pending_names`` meanwhile (tui/live.py).

A newer selection cancels the worker; the next progress call notices and
stops the read (``LoadCancelled``), so a big session the user left does
not keep a core busy.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from textual.worker import get_current_worker

from ..store.opening import LoadCancelled, open_progressively
from ..store.session import Session
from .messages import LoadProgress, SessionLoaded, SessionPartial
from .model import TimelineModel

if TYPE_CHECKING:  # pragma: no cover
    from .app import CrabviewApp

PROGRESS_EVERY = 0.1  # seconds between progress messages
HANDED_MAX_AGE = 10.0  # seconds: an older listing from the summaries is not used
PAINT_WAIT = 0.5  # seconds the read waits at most for a stand-in to be painted


LISTING_WAIT = 30.0  # seconds the store's summary waits for the opener's listing


class SessionOpener:
    def __init__(self, app: "CrabviewApp"):
        self.app = app
        # (slug, listed, names): the listing of the session being opened,
        # handed to the summaries worker (one listing of a big directory, not two)
        self._slot: tuple[str, threading.Event, list[list[str]]] | None = None
        self._lock = threading.Lock()
        self.painted = threading.Event()  # set by the UI once a stand-in is on screen
        self._handed: dict[str, tuple[float, list[str]]] = {}

    def hand_over(self, listings: dict[str, tuple[float, list[str]]]) -> None:
        """Listings the store's first summaries made (summaries worker), for the session opened next.

        Only the first open may use one: it is moments old, and a session
        listed before the watcher was up is looked at again once it is
        (app._reconcile_if_needed)."""
        with self._lock:
            self._handed = dict(listings)
        self.app._handed_over = True

    def _take_listing(self, slug: str) -> tuple[float, list[str]] | None:
        with self._lock:
            handed, self._handed = self._handed, {}
        got = handed.get(slug)
        if got is not None and time.monotonic() - got[0] > HANDED_MAX_AGE:
            return None
        return got

    def expect(self, slug: str) -> None:
        """A worker will open ``slug`` (the UI thread says so before starting it)."""
        with self._lock:
            if self._slot is not None:
                self._slot[1].set()  # whoever waits for the one before stops waiting
            self._slot = (slug, threading.Event(), [])

    def listed_names(self, slug: str) -> list[str] | None:
        """The step names of ``slug`` from the open in progress (the summaries worker asks).

        Waits for the opener's listing; None if ``slug`` is not the one
        being opened, or its open stopped before listing (the caller lists).
        """
        with self._lock:
            slot = self._slot
        if slot is None or slot[0] != slug:
            return None
        deadline = time.monotonic() + LISTING_WAIT
        while not slot[1].wait(0.1):
            if time.monotonic() > deadline or not self.app.is_running:
                return None
        return slot[2][0] if slot[2] else None

    def run(self, slug: str, open_id: int = 0) -> None:
        app = self.app
        worker = get_current_worker()
        t0 = time.perf_counter()
        last = [0.0]

        def check() -> None:
            if worker.is_cancelled or app.selected != slug:
                raise LoadCancelled

        def partial(stand_in: Session) -> None:
            check()
            model = TimelineModel(stand_in)
            model.compute_facts()
            self.painted.clear()
            app.post_message(SessionPartial(stand_in, model, open_id))
            # let the UI thread paint it before reading on: the two share one GIL
            self.painted.wait(PAINT_WAIT)

        def progress(done: int, total: int) -> None:
            check()
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                app.post_message(LoadProgress(slug, done, total, open_id=open_id))

        with self._lock:
            slot = self._slot if self._slot is not None and self._slot[0] == slug else None

        def listed(names: list[str]) -> None:
            if slot is not None:
                slot[2].append(names)
                slot[1].set()

        s = Session(app.store.session_path(slug), app.store.memory)
        try:
            try:
                open_progressively(s, partial, progress, listed, listing=self._take_listing(slug))
            finally:
                if slot is not None:
                    slot[1].set()  # no one waits for a listing that will not come
                    with self._lock:
                        if self._slot is slot:  # a later summary lists for itself
                            self._slot = None
            check()
            app.post_message(LoadProgress(slug, len(s.steps), len(s.steps), "rows", open_id))
            model = TimelineModel(s, check)
            model._check = None  # built: later rebuilds run on the UI thread
            check()
            model.compute_facts()
        except LoadCancelled:
            return
        app.post_message(SessionLoaded(s, time.perf_counter() - t0, model, open_id))
