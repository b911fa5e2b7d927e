"""The crabview browser: sessions, a virtual timeline, step detail, live.

All file IO runs in named workers that post typed messages
(``messages.py``); the UI thread only renders. ``make_app`` is the one
factory the CLI, the tests, the screenshots and the benchmark use.

Concurrency, by design: a loaded ``Session`` is changed only by
``load``/``refresh`` and read for derived facts, all under its one lock
(``Session.lock``); its lazy-value LRU (``StepSource``) has its own. The
``TimelineModel`` (rows, summaries, search and bookmark rows) belongs to
the UI thread; workers get snapshots (step names for search) and post
results tagged with what they answer (a search generation, a model
version), which the UI thread drops when stale. Searches are exclusive
workers: a new query cancels the old one (search.py). The app coordinates;
searching, navigating, rendering and the chart live in their own modules.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import events, on, work
from textual.worker import get_current_worker
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.notifications import Notification, Notify
from textual.widgets import Footer, Input, Static

from ..render.safe import one_line, visible
from ..render.text import fmt_int, step_text
from ..store.decode import salvage
from ..store.session import Session, read_file
from ..store.store import Store
from ..store.watch import StoreWatcher
from .actions import bindings
from .commands import CrabviewCommands
from .live import LiveFeed, StoreChanged
from .opening import SessionOpener
from .safe_ui import GuardedApp, notify_plain
from .messages import (
    FactsReady,
    BytesLoaded,
    GlobalSearchDone,
    GlobalSearchProgress,
    ProblemsCollected,
    SearchProgress,
    MemoryReloaded,
    SearchDone,
    LoadProgress,
    SessionLoaded,
    SessionPartial,
    SessionRefreshed,
    SessionsRemoved,
    StatsLoaded,
    SummariesLoaded,
    WatcherStatus,
)
from .model import SessionStats, TimelineModel, group_key, stats_of
from .navigation import next_row
from .search import ContentCache, Query, QueryError, SearchState, parse_query, search_steps, search_store
from .chart import turns_of
from .model import META_INDEX
from .navigation import Bookmarks, row_of_number
from .screens import NARROW, GotoStep, HelpScreen, ListPicker, ProblemsScreen, SearchResults, TokenChart
from .widgets.detail import DetailPane
from .widgets.sessions import SEVERITY_BADGE, SessionsPane
from .widgets.timeline import Timeline, TimelineHeader

LIVE_SECONDS = 10.0
STORE_NOTE_SECONDS = 60.0  # how long the status line says the store was replaced
SALVAGE_CAP = 1 << 20
SEARCH_ALL_CAP = 500  # results listed by a search across sessions (all are counted)
STATS_MAX_STEPS = 20_000  # larger sessions get their badge counts when opened
WATCH_START_LATEST = 3.0  # seconds: the watcher starts then at the latest, first rows or not


class CrabviewApp(GuardedApp, App[None]):
    CSS_PATH = "crabview.tcss"
    TITLE = "crabview"
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {CrabviewCommands}

    def __init__(
        self,
        store: Store,
        poll: bool = False,
        live_writer: Any = None,
        now: Callable[[], float] | float | None = None,
        root_label: str | None = None,
        watch: bool = True,
        select: str | None = None,
    ):
        super().__init__()
        self.store = store
        self.poll = poll
        self.live_writer = live_writer
        if now is None:
            self.now: Callable[[], float] = time.time
        elif callable(now):
            self.now = now
        else:
            fixed = float(now)
            self.now = lambda: fixed
        self.root_label = root_label or str(store.layout.root or store.sessions_dir)
        self.watch_enabled = watch
        self.initial_select = select
        self.summaries: dict[str, Any] = {}
        self.stats: dict[str, SessionStats] = {}
        self.latest: dict[tuple[str, str], str | None] = {}
        self.live_at: dict[str, float] = {}
        self.session: Session | None = None
        self.model: TimelineModel | None = None
        self.selected: str | None = None
        self.loading: str | None = None
        self.pending_names: dict[str, list[str]] = {}
        self.pending_jump: str | None = None
        self.pending_goto: int | None = None  # a `:` number asked for while only the end was read
        self.watcher: StoreWatcher | None = None
        self.watcher_mode = "starting" if watch else "off"
        self.watcher_reason = ""
        self.live_feed = LiveFeed(self)
        self.opener = SessionOpener(self)
        self._watch_started = False
        self._handed_over = False  # the store's first listings were handed to the opener (once)
        self._reconciled: Session | None = None  # the loaded session last checked for a reconcile
        self._open_started = 0.0  # monotonic time the open in progress (or last) began
        self._open_id = 0  # numbers the opens: a late answer of an earlier one is dropped
        self.load_progress: tuple[int, int, str] | None = None  # (done, total, phase) of the session being opened
        self.store_event: tuple[str, float] | None = None  # (state, when) of the last store replacement
        self.search = SearchState()
        self._content: tuple[tuple[str, int], ContentCache] | None = None
        self._global_gen = 0
        self._global_progress: tuple[int, int, int] | None = None
        self.bookmarks = Bookmarks()
        self.sessions_hidden = False  # the user hid the sessions pane (\\)
        self.load_seconds: float | None = None
        self.first_paint: float | None = None
        self.store_gone = False
        self._searching_note: Notification | None = None
        self._after_refresh_timer: Any = None  # monotonic time the first timeline rows were set

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield SessionsPane(id="sessions")
            with Vertical(id="right"):
                yield TimelineHeader(id="timeline-header")
                yield Timeline(id="timeline")
                yield Static(Text(""), id="new-below")
                yield Input(placeholder="search the full content of this session (re:PATTERN for a regex; Enter; n/N next/prev; Esc cancels)", id="search")
                yield DetailPane(id="detail")
        yield Static(Text(""), id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._main("#search", Input).display = False
        self._main(Timeline).focus()
        self._main(TimelineHeader).show(None, "loading the store…")
        want = self.initial_select
        if want is not None and self.store.session_path(want).is_dir():
            # asked for by name: open it now, beside the store's listing (its end shows sooner)
            self.select_session(want)
        self.load_summaries()
        if self.watch_enabled:
            # The watcher's first scan reads every name of every session, so
            # it starts once the first rows are on screen (or soon anyway);
            # a session listed before its watch was up is checked again then.
            self.set_timer(WATCH_START_LATEST, self._start_watching)
        if self.live_writer is not None:
            self.live_writer.start()
        self.set_interval(15, self._tick)
        self.set_interval(1.0, self._check_store)
        self._fit_width(self.size.width)
        self.update_status()

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.live_writer is not None:
            self.live_writer.stop()

    def _tick(self) -> None:
        self.refresh_sessions()

    def _check_store(self) -> None:
        """Say so, loudly, when the store root (or its sessions/ dir) is deleted, and when it is back."""
        if not self._alive() or self.watch_enabled:
            return  # a watcher knows the store by identity and says so (StoreChanged)
        gone = not self.store.sessions_dir.is_dir()
        if gone == self.store_gone:
            return
        self.store_gone = gone
        if gone:
            notify_plain(
                self,
                f"the store is gone: {self.store.sessions_dir} was deleted (or moved) while crabview was open",
                title="store gone",
                severity="error",
                timeout=30,
            )
            if not self.summaries:
                self._main(TimelineHeader).show(None, "the store was deleted")
                self.timeline.set_model(None, "the store was deleted")
        else:
            notify_plain(self, "the store is back: reloading")
            self.load_summaries()
        self.update_status()

    # -- helpers --------------------------------------------------------------------

    def _alive(self) -> bool:
        """False while shutting down: late worker messages are dropped."""
        return bool(self._screen_stacks.get(self._current_mode)) and self.is_running

    def _main(self, selector: Any, kind: Any = None) -> Any:
        """Query the main screen (a modal may be on top)."""
        screen = self.screen_stack[0] if self.screen_stack else self.screen
        return screen.query_one(selector, kind) if kind is not None else screen.query_one(selector)

    @property
    def timeline(self) -> Timeline:
        return self._main(Timeline)

    @property
    def detail(self) -> DetailPane:
        return self._main(DetailPane)

    def is_live(self, slug: str) -> bool:
        t = self.live_at.get(slug)
        if t is not None and time.monotonic() - t < LIVE_SECONDS:
            return True
        summ = self.summaries.get(slug)
        if summ is not None and summ.mtime_ns and slug not in self.live_at:
            age = self.now() - summ.mtime_ns / 1e9
            return 0 <= age < LIVE_SECONDS
        return False

    def refresh_sessions(self) -> None:
        self._main(SessionsPane).set_data(self.summaries, self.stats, self.latest, self.is_live, self.now())
        self.update_status()

    def update_status(self) -> None:
        # the important, short parts first: a narrow terminal cuts the end
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" ")
        if self.store_gone:
            t.append(" STORE GONE: moved away or deleted ", style="bold white on red")
            t.append(" ")
        elif self.store_event is not None and time.monotonic() - self.store_event[1] < STORE_NOTE_SECONDS:
            label = "STORE BACK" if self.store_event[0] == "back" else "STORE REPLACED"
            t.append(f" {label}: reloaded ", style="bold black on yellow")
            t.append(" ")
        # what the user is doing right now (a search and its position) before the store's totals:
        # at 80 columns the line is cut after the sessions count
        if self.search.text:
            t.append(f"/{one_line(self.search.text, 20)}: {self.search.status(self.timeline.cursor)}  ", style="yellow")
        if self._global_progress is not None:
            done, total, found = self._global_progress
            t.append(f"searching all: {done}/{total} sessions, {fmt_int(found)} found  ", style="yellow")
        sev = {"error": 0, "warning": 0, "info": 0}
        for st in self.stats.values():
            for k, v in (st.severities or {"error": st.problems}).items():
                sev[k] = sev.get(k, 0) + v
        for name, mark, style in SEVERITY_BADGE:
            k = sev.get(name, 0)
            if k:
                word = name if name == "info" or k == 1 else name + "s"
                t.append(f"{mark} {k} {word}  ", style=style)
        if self.load_progress is not None and self.loading is not None:
            done, total, phase = self.load_progress
            if phase == "rows":
                t.append("building rows…  ", style="bold yellow")
            else:
                t.append(f"reading {round(done * 100 / max(1, total))}%  ", style="bold yellow")  # as the bar rounds
        if self.session is not None and self.session.load_status not in ("ok", "pending"):
            t.append(f"daemon load: {one_line(self.session.load_status, 30)}  ", style="bold red")
        hidden = sum(1 for s in self.summaries.values() if not s.listed)
        n = len(self.summaries)
        t.append(f"{n} session{'' if n == 1 else 's'}")
        if hidden:
            t.append(f" ({hidden} hidden from the daemon)", style="red")
        if self.model is not None:
            t.append(f"  follow: {'on' if self.timeline.follow else 'off'}", style="cyan")
        mode = self.watcher_mode
        t.append(f"  watch: {mode}", style="green" if mode == "inotify" else "yellow")
        if self.watcher_reason:
            t.append(f" ({one_line(self.watcher_reason, 40)})", style="yellow")
        t.append("  ")
        t.append(one_line(self.root_label, 50), style="bold")
        mem = self.store.memory
        if mem.status == "ok":
            t.append(f"  memory.db: {len(mem.archives)} archives", style="bright_black")
        else:
            t.append(f"  memory.db {mem.status}", style="red")
        self._main("#status", Static).update(t)

    def on_resize(self, event: Any) -> None:
        self._fit_width(event.size.width)

    def _fit_width(self, width: int) -> None:
        """Below NARROW columns the sessions pane goes (ctrl+p still opens any session)."""
        try:
            pane = self._main(SessionsPane)
        except Exception:  # not composed yet
            return
        show = width >= NARROW and not self.sessions_hidden
        if pane.display != show:
            if not show and pane.has_focus_within:
                self.timeline.focus()
            pane.display = show

    # -- loading ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="summaries", name="load_summaries")
    def load_summaries(self) -> None:
        opening = [self.selected] if self.selected is not None else []
        # the first summaries keep big listings: the session opened by default is the biggest
        keep = {} if self.selected is None and not self._handed_over else None
        summaries = self.store.summaries(last=opening, listed=self.opener.listed_names, keep=keep)
        if keep:
            self.opener.hand_over(keep)
        self.post_message(SummariesLoaded(summaries, self._latest_for(summaries), full=True))

    def _latest_for(self, summaries: list[Any]) -> dict[tuple[str, str], str | None]:
        out: dict[tuple[str, str], str | None] = {}
        for summ in summaries:
            key = group_key(summ.slug, summ.meta)
            if key not in out and key[0] != "?":
                out[key] = self.store.latest(key[0], key[1])
        return out

    @on(SummariesLoaded)
    def _summaries_loaded(self, msg: SummariesLoaded) -> None:
        if not self._alive():
            return
        if msg.full:
            self.summaries = {s.slug: s for s in msg.summaries}
        else:
            for s in msg.summaries:
                self.summaries[s.slug] = s
        self.latest.update(msg.latest)
        self.refresh_sessions()
        self._check_store()
        pane = self._main(SessionsPane)
        if self.selected is None:
            want = self.initial_select
            if want is None and self.live_writer is not None:
                want = getattr(self.live_writer, "slug", None)
            if want is None or want not in self.summaries:
                want = self._default_session(pane.slugs)
            if want is not None:
                self.select_session(want)
            else:
                self._main(TimelineHeader).show(None, "no sessions in this store")
                self.timeline.set_model(None, "no sessions")
                self._start_watching()
        if msg.full:
            self.load_stats([s.slug for s in msg.summaries])

    def _default_session(self, slugs: list[str]) -> str | None:
        """The listed session with the most step files (the main conversation)."""
        best = None
        for slug in slugs:
            summ = self.summaries[slug]
            key = (summ.listed, summ.step_names)
            if best is None or key > best[0]:
                best = (key, slug)
        return best[1] if best else None

    def select_session(self, slug: str) -> None:
        if slug == self.selected and self.model is not None:
            return
        self.selected = slug
        self._open_started = time.monotonic()
        self.pending_goto = self.pending_jump = None  # moves asked for in the session left
        self._main(SessionsPane).select(slug)
        self.loading = slug
        self.pending_names[slug] = []
        self.timeline.set_model(None, f"loading {one_line(slug, 60)}…")
        self._main(TimelineHeader).show(None, f"loading {one_line(slug, 60)}…")
        self.opener.expect(slug)
        self._open_id += 1
        self.load_session(slug, self._open_id)

    @on(SessionsPane.Selected)
    def _pane_selected(self, msg: SessionsPane.Selected) -> None:
        if not self._alive():
            return
        self.select_session(msg.slug)

    @work(thread=True, exclusive=True, group="session", name="load_session")
    def load_session(self, slug: str, open_id: int = 0) -> None:
        self.opener.run(slug, open_id)

    def _showing_stand_in(self, slug: str) -> bool:
        """Whether the timeline shows the end of ``slug`` while the rest is read."""
        s = self.session
        return s is not None and s.slug == slug and s.partial is not None and self.model is not None

    def _is_the_open(self, slug: str, open_id: int) -> bool:
        """Whether a worker's message is for the open in progress (alive, chosen, not stopped, not an
        earlier open of the same session whose answer came late)."""
        return self._alive() and slug == self.selected and self.loading == slug and open_id == self._open_id

    @on(SessionPartial)
    def _session_partial(self, msg: SessionPartial) -> None:
        s = msg.session
        if not self._is_the_open(s.slug, msg.open_id):
            return
        again = self._showing_stand_in(s.slug)
        self.session = s
        self.model = msg.model
        if again:
            self.timeline.replace_model(self.model)
            self._search_again()
        else:
            self.timeline.set_model(self.model, "no step files in this session")
        if self.first_paint is None:
            self.first_paint = time.monotonic()
        self.load_progress = (s.partial.shown, s.partial.total, "reading")
        self._main(TimelineHeader).show(self.model, progress=self.load_progress)
        self.call_after_refresh(self.opener.painted.set)
        self.call_after_refresh(self._start_watching)
        self.timeline.marks = set(self.bookmarks.rows(self.model))
        self.update_status()

    def _stop_loading(self) -> bool:
        """Stop the open in progress (its session was deleted, its store replaced); True if there was one."""
        if self.loading is None:
            return False
        self.workers.cancel_group(self, "session")  # the opener's next progress call stops the read
        self.loading = None
        self.load_progress = None
        self.update_status()
        return True

    def _read_so_far(self) -> str:
        """'the last N steps read so far' while a stand-in is shown, else ''."""
        model = self.model
        if model is None or model.partial is None:
            return ""
        return f"the last {fmt_int(len(model.steps))} steps read so far"

    def _search_again(self) -> None:
        """The model was replaced by a bigger one of the same session: the search typed stays, over it."""
        query = self.search_query
        self.workers.cancel_group(self, "search")
        self.search.clear()
        if query:
            self.search_session(query, quiet=False, move=False)

    @on(LoadProgress)
    def _load_progress(self, msg: LoadProgress) -> None:
        if not self._is_the_open(msg.slug, msg.open_id):
            return
        self.load_progress = (msg.done, msg.total, msg.phase)
        if self.model is not None:
            self._main(TimelineHeader).show(self.model, progress=self.load_progress)
        else:
            what = "building the rows" if msg.phase == "rows" else f"reading {fmt_int(msg.done)} of {fmt_int(msg.total)} steps"
            self._main(TimelineHeader).show(None, f"loading {one_line(msg.slug, 60)}: {what}…")
        self.update_status()

    @on(SessionLoaded)
    def _session_loaded(self, msg: SessionLoaded) -> None:
        s = msg.session
        if not self._is_the_open(s.slug, msg.open_id):
            return  # another session chosen, or this open stopped (deleted, store replaced)
        had_stand_in = self._showing_stand_in(s.slug)
        self.loading = None
        self.load_progress = None
        self.session = s
        self.model = msg.model
        self.load_seconds = msg.seconds
        if msg.model.facts is not None:
            self.stats[s.slug] = msg.model.facts.stats
        if had_stand_in:
            self.timeline.replace_model(self.model)
        else:
            self.timeline.set_model(self.model, "no step files in this session")
        if self.first_paint is None:
            self.first_paint = time.monotonic()
        if s.memory is not self.store.memory:  # memory.db changed while it was read: the view says what it says now
            s.set_memory(self.store.memory)
            self.model.rebuild()
            self.timeline.model_extended(None, rebuilt=False)
            self.compute_facts(self.model)
        self._main(TimelineHeader).show(self.model)
        self.call_after_refresh(self._start_watching)
        self._reconcile_if_needed()
        if had_stand_in:
            self._search_again()
        else:
            self.search.clear()
            self.workers.cancel_group(self, "search")
        self.refresh_sessions()
        self.update_status()
        pending = self.pending_names.pop(s.slug, [])
        if pending:
            self._refresh_current(pending)
        if self.pending_jump is not None:
            row = self._row_of_name(self.pending_jump)
            self.pending_jump = None
            if row is not None:
                self.timeline.move_to_row(row)
                self.timeline.focus()
        if self.pending_goto is not None:
            number, self.pending_goto = self.pending_goto, None
            found = row_of_number(self.model, number)
            if found is None:
                notify_plain(self, f"no step numbered {number} or later", severity="warning")
            else:
                self.timeline.move_to_row(found[0])
                self.timeline.focus()
                if not found[1]:
                    notify_plain(self, f"no step {number}: showing the next one", timeout=3)
        self.timeline.marks = set(self.bookmarks.rows(self.model))

    @work(thread=True, exclusive=True, group="stats", name="load_stats")
    def load_stats(self, slugs: list[str]) -> None:
        from ..store.store import SessionSummary  # noqa: F401

        batch: dict[str, SessionStats] = {}
        last = time.monotonic()
        for slug in slugs:
            summ = self.summaries.get(slug)
            if slug == self.selected or (summ is not None and summ.step_names > STATS_MAX_STEPS):
                continue
            try:
                batch[slug] = stats_of(self.store.load_session(slug))
            except Exception:  # pragma: no cover - the core never raises for content
                continue
            if time.monotonic() - last > 0.2:
                self.post_message(StatsLoaded(batch))
                batch, last = {}, time.monotonic()
        if batch:
            self.post_message(StatsLoaded(batch))

    @on(StatsLoaded)
    def _stats_loaded(self, msg: StatsLoaded) -> None:
        if not self._alive():
            return
        for slug, st in msg.stats.items():
            if slug != self.selected:
                self.stats[slug] = st
        self.refresh_sessions()

    # -- live ---------------------------------------------------------------------

    def watch_store(self) -> None:
        self.run_worker(self.live_feed.run(), exclusive=True, group="watch", name="watch_store")

    def _start_watching(self) -> None:
        """Start the watcher, once (after the first rows, or WATCH_START_LATEST after start)."""
        if self.watch_enabled and not self._watch_started and self._alive():
            self._watch_started = True
            self.watch_store()

    def _reconcile_if_needed(self) -> None:
        """A session listed before the watcher was up may have missed a step meanwhile: look again, once."""
        s = self.session
        ready = self.live_feed.ready_at
        if s is None or self.loading is not None or ready is None or s is self._reconciled:
            return
        self._reconciled = s
        # Changes reach the open session as events once the watcher is up and
        # this open began (events for it are kept while it loads); a listing
        # made before either (one handed over from the summaries) may miss one.
        if s.listed_at >= max(ready, self._open_started):
            return
        self.run_worker(self.live_feed.reconcile_open(s), group="refresh", name="reconcile_session")

    def _refresh_current(self, names: list[str]) -> None:
        self.run_worker(self.live_feed.refresh_open(names), group="refresh", name="refresh_session")

    @on(SessionRefreshed)
    def _session_refreshed(self, msg: SessionRefreshed) -> None:
        if not self._alive():
            return
        model, s = self.model, self.session
        if model is None or s is None or s.slug != msg.slug:
            return
        tl = self.timeline
        keep = None
        i = tl.current_step()
        if 0 <= i < len(model.steps):
            keep = model.steps[i].name
        if msg.changed:
            model.rebuild()
            rebuilt = True
        else:
            rebuilt = model.extend() < 0
        tl.model_extended(keep, rebuilt=True if rebuilt else False)
        # counts, problems, token totals and the sessions pane are O(steps):
        # refresh them a moment later, once, not per appended step
        if self._after_refresh_timer is None:
            self._after_refresh_timer = self.set_timer(0.3, self._after_refresh)

    def _after_refresh(self) -> None:
        self._after_refresh_timer = None
        if self.model is not None and self._alive():
            self.compute_facts(self.model)

    @work(thread=True, exclusive=True, group="facts", name="compute_facts")
    def compute_facts(self, model: TimelineModel) -> None:
        model.compute_facts()
        self.post_message(FactsReady(model))

    @on(FactsReady)
    def _facts_ready(self, msg: FactsReady) -> None:
        if not self._alive():
            return
        model, s = self.model, self.session
        if model is None or s is None or msg.model is not model:
            return
        if model.facts is not None:
            self.stats[s.slug] = model.facts.stats
        summ = self.summaries.get(s.slug)
        if summ is not None:
            import msgspec

            self.summaries[s.slug] = msgspec.structs.replace(
                summ, step_names=len(model.steps), tmp_names=sum(1 for st in model.steps if st.is_tmp) if len(model.steps) < 200_000 else summ.tmp_names
            )
        self._main(TimelineHeader).show(model)
        if self.search_query:
            self.search_session(self.search_query, quiet=True)
        self.refresh_sessions()

    @on(MemoryReloaded)
    def _memory_reloaded(self, msg: MemoryReloaded) -> None:
        if not self._alive():
            return
        if self.session is not None:
            self.session.set_memory(msg.memory)
        if self.model is not None:
            self.model.rebuild()
            self.timeline.model_extended(None, rebuilt=False)
            self.timeline.refresh()
        self.update_status()

    @on(WatcherStatus)
    def _watcher_status(self, msg: WatcherStatus) -> None:
        if not self._alive():
            return
        self._reconcile_if_needed()
        self.watcher_mode = msg.mode
        self.watcher_reason = msg.reason
        self.update_status()

    @on(SessionsRemoved)
    def _sessions_removed(self, msg: SessionsRemoved) -> None:
        if not self._alive():
            return
        for slug in msg.slugs:
            self.summaries.pop(slug, None)
            self.stats.pop(slug, None)
            if slug == self.selected:
                self._stop_loading()
                self.session = None
                self.model = None
                self.timeline.set_model(None, f"session {one_line(slug, 60)} was deleted")
                self._main(TimelineHeader).show(None, f"session {one_line(slug, 60)} was deleted")
                self.detail.show_step(None, -1)
        self.refresh_sessions()

    @on(StoreChanged)
    def _store_changed(self, msg: StoreChanged) -> None:
        """The root or sessions/ is not the directory it was: say so, and show the new one."""
        if not self._alive():
            return
        self.store_event = (msg.state, time.monotonic())
        self.store_gone = msg.state == "gone"
        if self._stop_loading():  # what was being read is not the store there is now
            self.session = self.model = None
        if msg.state == "gone":
            notify_plain(
                self,
                f"the store is gone: {msg.path} was moved away or deleted while crabview was open",
                title="store gone",
                severity="error",
                timeout=30,
            )
            self.summaries.clear()
            self.stats.clear()
            self._main(TimelineHeader).show(None, "the store is gone")
            self.timeline.set_model(None, "the store was moved away or deleted")
        else:
            what = "the same store is back" if msg.state == "back" else "another directory is there now"
            notify_plain(self, f"store {msg.path} replaced: {what}; reloaded", title=f"store {msg.state}", severity="warning", timeout=15)
            # reload the list, then the session that was on screen (if the new store has it)
            want = self.selected
            self.selected = None
            self.session = None
            self.model = None
            self.initial_select = want
            self.load_summaries()
        self.refresh_sessions()

    # -- timeline & detail ------------------------------------------------------------

    @on(Timeline.Highlighted)
    def _highlighted(self, msg: Timeline.Highlighted) -> None:
        if not self._alive():
            return
        self.detail.show_step(self.model, msg.index)
        if self.search.text:  # the position k/N follows the cursor
            self.update_status()

    @on(Timeline.NewBelow)
    def _new_below(self, msg: Timeline.NewBelow) -> None:
        if not self._alive():
            return
        bar = self._main("#new-below", Static)
        if msg.count > 0:
            bar.update(Text(f" ↓ {fmt_int(msg.count)} new row{'' if msg.count == 1 else 's'} below · G to jump, f to follow", no_wrap=True, overflow="ellipsis"))
        bar.display = msg.count > 0

    @on(Timeline.FollowChanged)
    def _follow_changed(self, msg: Timeline.FollowChanged) -> None:
        if not self._alive():
            return
        self.update_status()

    @work(thread=True, exclusive=True, group="bytes", name="read_step_bytes")
    def read_step_bytes(self, slug: str, name: str, want_salvage: bool) -> None:
        data, err = read_file(str(self.store.session_path(slug) / name))
        salv = None
        if data is not None and want_salvage:
            salv = salvage(data[:SALVAGE_CAP])
        self.post_message(BytesLoaded(slug, name, data, err, salv))

    @on(BytesLoaded)
    def _bytes_loaded(self, msg: BytesLoaded) -> None:
        if not self._alive():
            return
        self.detail.show_bytes(msg.slug, msg.name, msg.data, msg.error, msg.salvage)

    # -- search --------------------------------------------------------------------
    #
    # One search at a time: each request gets a generation number; the
    # worker is exclusive (a new query cancels the old one, which stops at
    # its next check) and its answers carry the generation, so a late answer
    # of an older query is dropped, never shown. The worker sees only a
    # snapshot of step names and the session's ContentCache (search.py).

    # Keys typed after `/` at paste speed are already queued for the widget
    # that had the focus (the timeline, the detail) before the box gets it;
    # while the box is opening they are forwarded to it (forward_search_key),
    # so none runs as an action and the box holds exactly what was typed.
    search_opening = False
    _search_fresh = False  # the old query is still selected: the first key replaces it

    def action_search(self) -> None:
        inp = self._main("#search", Input)
        inp.display = True
        inp.value = self.search.text
        self.search_opening = True
        self._search_fresh = True
        inp.screen.set_focus(inp)  # now, not later: once the focus is elsewhere again, the user went back

    _goto_prompt: GotoStep | None = None  # the `:` prompt while it is on the screen stack

    def prompt_key(self, event: Any) -> bool:
        """A key seen by the timeline or the detail before it bubbles up to the bindings.

        `/` and `:` open their prompt here, not at the app's binding: the keys
        queued behind them (paste speed, tmux send-keys) must already find the
        prompt open and be handed to it, or they run as actions.
        """
        if self.forward_search_key(event):
            return True
        opener = {"slash": self.action_search, "colon": self.action_goto_step}.get(event.key)
        if opener is None or len(self.screen_stack) != 1:
            return False
        event.stop()
        event.prevent_default()
        opener()
        return True

    async def on_event(self, event: Any) -> None:
        # Keys typed right after `:` (paste speed) must reach the prompt in
        # order. Until its input has focus, Textual parks a key on the new
        # screen's own queue and replays it later, after the keys behind it
        # (":12⏎" went to step 1: the Enter overtook the 2). So they go to
        # the prompt from here, before Textual routes them.
        if isinstance(event, events.Key) and self._to_opening_prompt(event):
            return
        await super().on_event(event)

    def _to_opening_prompt(self, event: Any) -> bool:
        prompt = self._goto_prompt
        if prompt is None or prompt not in self.screen_stack:
            return False
        found = prompt.query("#goto-input") if prompt.is_mounted else None
        if found and found.first().has_focus:
            return False  # the input has it from here on, in order
        if prompt.type_key(event.key, event.character):
            event.stop()
            event.prevent_default()
            return True
        return False

    def forward_search_key(self, event: Any) -> bool:
        """Hand a key meant for the opening search box (or `:` prompt) to it; False when none is opening."""
        prompt = self._goto_prompt
        if prompt is not None:
            if prompt in self.screen_stack and prompt.type_key(event.key, event.character):
                event.stop()
                event.prevent_default()
                return True
            return False
        if not self.search_opening:
            return False
        inp = self._main("#search", Input)
        if not inp.display or self.focused is not inp:  # closed, or the user went back (a click, Tab)
            self.search_opening = False
            return False
        ch = event.character
        event.stop()
        event.prevent_default()
        if event.key == "enter":
            self._submit_search(inp, inp.value)
            return True
        if event.key == "escape":
            self._close_search(inp)
            return True
        if event.key == "backspace":
            inp.value = "" if self._search_fresh else inp.value[:-1]
            self._search_fresh = False
        elif ch and ch.isprintable():
            inp.value = ch if self._search_fresh else inp.value + ch
            self._search_fresh = False
        else:
            return True  # another key (an arrow, a function key) while the box opens: dropped, never an action
        inp.select_on_focus = False  # the focus, when it lands, must not select what was forwarded
        inp.cursor_position = len(inp.value)
        return True

    def _close_search(self, inp: Input) -> None:
        self.search_opening = False
        inp.select_on_focus = True
        inp.display = False
        self.timeline.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._submit_search(event.input, event.value)

    def _submit_search(self, inp: Input, value: str) -> None:
        q = value.strip()
        self._close_search(inp)
        if q:
            self.search_session(q)
        else:
            self.clear_search()

    def clear_search(self) -> None:
        self.search.clear()
        self.workers.cancel_group(self, "search")
        self.timeline.matches = set()
        self.timeline.refresh()
        self.update_status()

    def on_key(self, event: Any) -> None:
        if event.key == "escape":
            inp = self._main("#search", Input)
            if inp.display:
                self._close_search(inp)
                event.stop()

    @property
    def search_query(self) -> str:
        return self.search.text

    @property
    def search_rows(self) -> list[int]:
        return self.search.rows

    def search_session(self, query: str, quiet: bool = False, move: bool = True) -> None:
        """Search this session for ``query``; ``quiet``: only steps appended since the last answer;
        ``move``: go to the first match (not when the search is only re-run over a bigger model)."""
        model = self.model
        if model is None:
            return
        try:
            q = parse_query(query)
        except QueryError as e:
            notify_plain(self, str(e), severity="error")
            return
        st = self.search
        start = 0
        if quiet and st.text == query and st.version == model.version and st.covered <= len(model.steps) and not st.running:
            start = st.covered
            if start == len(model.steps):
                return
        elif quiet and (st.text != query or (st.running and st.version == model.version)):
            return  # another query now, or the running search picks the new steps up when it ends
        gen = st.begin(query, model.version, keep=start > 0)
        cache = self._content_cache(model)
        names = [x.name for x in model.steps]
        if not quiet:
            self.timeline.matches = set()
            self.timeline.refresh()
        self.update_status()
        self._search_worker(gen, q, names, start, cache, model.version, quiet, move)

    def _content_cache(self, model: TimelineModel) -> ContentCache:
        key = (model.slug, model.version)
        if self._content is None or self._content[0] != key:
            self._content = (key, ContentCache(str(model.session.path)))
        return self._content[1]

    @work(thread=True, exclusive=True, group="search", name="search_session")
    def _search_worker(
        self, gen: int, q: Query, names: list[str], start: int, cache: ContentCache, version: int, quiet: bool, move: bool = True
    ) -> None:
        worker = get_current_worker()
        cancelled = lambda: worker.is_cancelled or self.search.gen != gen  # noqa: E731

        def progress(done: int, total: int) -> None:
            self.post_message(SearchProgress(gen, done, total))

        res = search_steps(q, names[start:], cache, cancelled, progress)
        if res.cancelled:
            return
        indices = [i + start for i in res.indices]
        self.post_message(SearchDone(gen, q.text, indices, start, len(names), version, quiet, res.seconds, move))

    @on(SearchProgress)
    def _search_progress(self, msg: SearchProgress) -> None:
        if self._alive() and msg.gen == self.search.gen:
            self.search.progress = (msg.done, msg.total)
            self.update_status()

    @on(SearchDone)
    def _search_done(self, msg: SearchDone) -> None:
        if not self._alive():
            return
        model = self.model
        st = self.search
        if msg.gen != st.gen or model is None:
            return  # an older query's answer
        if model.version != msg.version:  # the rows changed under it: search them anew
            st.abandon()
            self.search_session(st.text, quiet=True)
            return
        st.finish(msg.indices, msg.start, msg.covered, model.row_of_step)
        if st.covered < len(model.steps):  # steps arrived while it ran
            self.search_session(st.text, quiet=True)
        self.timeline.matches = set(st.rows)
        self.timeline.refresh()
        if not msg.quiet:
            part = model.partial
            if st.rows:
                if msg.move:
                    self._goto_match(True)
            elif part is not None:  # a stand-in: the rest may match
                notify_plain(self, f"no match for “{one_line(msg.query, 40)}” in the last {fmt_int(len(model.steps))} steps (the rest is still being read)", timeout=4)
            else:
                notify_plain(self, f"no step matches “{one_line(msg.query, 40)}”", severity="warning")
        self.update_status()

    def _goto_match(self, forward: bool) -> None:
        tl = self.timeline
        rows = self.search.rows
        if not rows:
            notify_plain(self, "no search matches (/ to search)")
            return
        row, wrapped = next_row(rows, tl.cursor, forward)
        tl.move_to_row(row)
        if wrapped and len(rows) > 0:
            notify_plain(self, "search wrapped to the " + ("top" if forward else "bottom"), timeout=2)
        self.update_status()

    def action_next_match(self) -> None:
        self._goto_match(True)

    def action_prev_match(self) -> None:
        self._goto_match(False)

    def search_all(self, query: str) -> None:
        try:
            q = parse_query(query)
        except QueryError as e:
            notify_plain(self, str(e), severity="error")
            return
        self._drop_searching_note()
        self._global_gen += 1
        self._global_progress = (0, 0, 0)
        note = Notification(f"searching every session for “{one_line(query, 40)}”… (ctrl+p again to search anew)", timeout=600, markup=False)
        self._searching_note = note
        self.post_message(Notify(note))
        entries = [(e.slug, str(self.store.session_path(e.slug))) for e in self.store.session_entries()]
        self._search_all(self._global_gen, q, entries)
        self.update_status()

    def _drop_searching_note(self) -> None:
        note, self._searching_note = self._searching_note, None
        if note is not None:
            try:
                self._unnotify(note)
            except KeyError:  # already timed out
                pass

    @work(thread=True, exclusive=True, group="search_all", name="search_all_sessions")
    def _search_all(self, gen: int, q: Query, entries: list[tuple[str, str]]) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int, matches: int) -> None:
            self.post_message(GlobalSearchProgress(gen, done, total, matches))

        hits, total, cancelled = search_store(
            q, entries, SEARCH_ALL_CAP, lambda: worker.is_cancelled or self._global_gen != gen, progress, len(entries)
        )
        if not cancelled:
            self.post_message(GlobalSearchDone(gen, q.text, [(h.slug, h.name, h.text) for h in hits], total))

    @on(GlobalSearchProgress)
    def _global_progress_msg(self, msg: GlobalSearchProgress) -> None:
        if self._alive() and msg.gen == self._global_gen:
            self._global_progress = (msg.sessions_done, msg.sessions, msg.matches)
            self.update_status()

    @on(GlobalSearchDone)
    def _global_done(self, msg: GlobalSearchDone) -> None:
        if not self._alive() or msg.gen != self._global_gen:
            return
        self._drop_searching_note()
        self._global_progress = None
        self.update_status()

        def chosen(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            slug, name = result
            self.jump_to_step_name(slug, name)

        self.push_screen(SearchResults(msg.query, msg.hits, msg.total), chosen)

    def _row_of_name(self, name: str) -> int | None:
        model = self.model
        if model is None:
            return None
        if name == "meta":
            return 0
        i = model.session.index_of(name)
        return model.row_of_step[i] if i is not None and i < len(model.row_of_step) else None

    def jump_to_step_name(self, slug: str, name: str) -> None:
        """Show step ``name`` of session ``slug`` (opening the session if needed)."""
        if slug == self.selected and self.session is not None and self.model is not None:
            row = self._row_of_name(name)
            if row is not None:
                self.pending_goto = self.pending_jump = None
                self.timeline.move_to_row(row)
                self.timeline.focus()
            elif self.model.partial is not None:  # not read yet: there once it is
                self.pending_goto = None
                self.pending_jump = name
                notify_plain(self, f"{one_line(name, 60)} is not read yet: going there once it is", timeout=4)
            return
        self.selected = None
        self.select_session(slug)
        self.pending_jump = name  # after select_session, which drops older pending moves

    # -- actions (the table in actions.py) ---------------------------------------------

    def _nav(self, which: str, forward: bool) -> None:
        if self.model is None:
            return
        self.pending_goto = self.pending_jump = None
        rows = self.model.nav_rows(which)
        where = self._read_so_far()
        if not rows:
            notify_plain(self, f"no {which}s in {where or 'this session'}")
        else:
            row, wrapped = next_row(rows, self.timeline.cursor, forward)
            self.timeline.move_to_row(row)
            if wrapped and len(rows) > 1:
                notify_plain(self, f"wrapped to the {'first' if forward else 'last'} {which}{' of ' + where if where else ''}", timeout=2)
        self.timeline.focus()

    def action_next_problem(self) -> None:
        self._nav("problem", True)

    def action_prev_problem(self) -> None:
        self._nav("problem", False)

    def action_next_compact(self) -> None:
        self._nav("compact", True)

    def action_prev_compact(self) -> None:
        self._nav("compact", False)

    def action_top(self) -> None:
        self.pending_goto = self.pending_jump = None
        self.timeline.go_top()

    def action_end(self) -> None:
        self.pending_goto = self.pending_jump = None
        self.timeline.go_end()
        self.update_status()

    def action_raw(self) -> None:
        self.detail.toggle("raw")

    def action_bytes(self) -> None:
        self.detail.toggle("bytes")

    def action_follow(self) -> None:
        tl = self.timeline
        if tl.follow:
            tl.follow = False
        else:
            tl.go_end()
        self.update_status()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # store-wide problems

    def action_problems(self) -> None:
        notify_plain(self, "collecting the problems of every session…", timeout=3)
        self._collect_problems()

    @work(thread=True, exclusive=True, group="problems", name="collect_problems")
    def _collect_problems(self) -> None:
        worker = get_current_worker()
        problems = list(self.store.store_problems())
        n = 0
        for s in self.store.iter_sessions():
            if worker.is_cancelled:
                return
            n += 1
            problems.extend(s.problems)
        self.post_message(ProblemsCollected(problems, n))

    @on(ProblemsCollected)
    def _problems_collected(self, msg: ProblemsCollected) -> None:
        if not self._alive():
            return

        def chosen(result: tuple[str, str | None] | None) -> None:
            if result is None:
                return
            slug, file = result
            self.jump_to_step_name(slug, file if file and not file.startswith("meta") else "meta")

        self.push_screen(ProblemsScreen(msg.problems, msg.sessions), chosen)

    # step numbers and bookmarks

    def action_goto_step(self) -> None:
        if self.model is None:
            return

        def chosen(number: int | None) -> None:
            self._goto_prompt = None
            if number is None or self.model is None:
                return
            found = row_of_number(self.model, number)
            if self.model.partial is not None and (found is None or not found[1]):
                # the stand-in holds the end only: the step may be in what is still being read
                self.pending_goto, self.pending_jump = number, None
                notify_plain(self, f"step {number} is not read yet: going there once it is", timeout=4)
                return
            if found is None:
                notify_plain(self, f"no step numbered {number} or later", severity="warning")
                return
            row, exact = found
            self.pending_goto = self.pending_jump = None  # this move is the newer one
            self.timeline.move_to_row(row)
            self.timeline.focus()
            if not exact:
                notify_plain(self, f"no step {number}: showing the next one", timeout=3)

        self._goto_prompt = GotoStep()
        self.push_screen(self._goto_prompt, chosen)

    def _current_name(self) -> str | None:
        i = self.timeline.current_step()
        if self.model is None:
            return None
        if i == META_INDEX:
            return "meta"
        return self.model.steps[i].name if 0 <= i < len(self.model.steps) else None

    def action_toggle_mark(self) -> None:
        name = self._current_name()
        if name is None or self.model is None:
            return
        on_ = self.bookmarks.toggle(self.model.slug, name)
        self.timeline.marks = set(self.bookmarks.rows(self.model))
        self.timeline.refresh()
        notify_plain(self, f"{'bookmarked' if on_ else 'bookmark removed:'} {one_line(name, 40)}", timeout=2)

    def action_next_mark(self) -> None:
        if self.model is None:
            return
        rows = self.bookmarks.rows(self.model)
        where = self._read_so_far()
        if not rows:
            notify_plain(self, f"no bookmarks in {where or 'this session'} (m marks a step)")
            return
        row, wrapped = next_row(rows, self.timeline.cursor, True)
        self.timeline.move_to_row(row)
        if wrapped and len(rows) > 1:
            notify_plain(self, f"wrapped to the first bookmark{' of ' + where if where else ''}", timeout=2)

    def action_list_marks(self) -> None:
        model = self.model
        if model is None:
            return
        choices = []
        for name in self.bookmarks.names(model.slug):
            i = model.session.index_of(name)
            text = name if i is None else f"{name}  {model.summary_of(i)}"
            choices.append((name, text))

        def chosen(name: str | None) -> None:
            if name is not None and self.model is not None:
                self.jump_to_step_name(self.model.slug, name)

        self.push_screen(ListPicker(f"bookmarks of {one_line(model.slug, 60)}", choices, "no bookmarks (m marks a step)"), chosen)

    # copy and open

    def _step_payload(self, what: str) -> tuple[str, str] | None:
        """(text, label) of the selected step: its file's JSON text, its human text, or its path."""
        model = self.model
        name = self._current_name()
        if model is None or name is None:
            notify_plain(self, "no step selected")
            return None
        path = str(model.session.path / name)
        if what == "path":
            return path, "path"
        if what == "json" or name == "meta":
            data, err = read_file(path)
            if data is None:
                notify_plain(self, f"cannot read {one_line(name, 40)}: {one_line(err or '?', 80)}", severity="error")
                return None
            return data[:SALVAGE_CAP].decode("utf-8", "replace"), "JSON"
        i = self.timeline.current_step()
        return step_text(model.steps[i], model.tools, model.session.archive_text if i == model.boundary_index else None), "text"

    def _copy(self, what: str) -> None:
        got = self._step_payload(what)
        if got is None:
            return
        text, label = got
        self.copy_to_clipboard(text)
        notify_plain(self, f"copied the step's {label} ({fmt_int(len(text))} characters) to the clipboard (OSC 52)", timeout=3)

    def action_copy_json(self) -> None:
        self._copy("json")

    def action_copy_text(self) -> None:
        self._copy("text")

    def action_copy_path(self) -> None:
        self._copy("path")

    def _open_external(self, var: str, default: str) -> None:
        import os
        import shlex
        import subprocess
        import tempfile

        got = self._step_payload("text")
        if got is None:
            return
        text = visible(got[0])
        cmd = shlex.split(os.environ.get(var) or default)
        # a temporary copy outside the store: crabview never writes into a store
        fd, tmp = tempfile.mkstemp(prefix="crabview-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            try:
                with self.suspend():
                    subprocess.run([*cmd, tmp], check=False)
            except Exception as e:  # SuspendNotSupported (headless, web) or a missing program
                notify_plain(self, f"cannot open ${var} ({one_line(' '.join(cmd), 40)}): {one_line(str(e) or type(e).__name__, 80)}", severity="error")
                return
            self.refresh()
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def action_open_pager(self) -> None:
        self._open_external("PAGER", "less -R")

    def action_open_editor(self) -> None:
        self._open_external("EDITOR", "vi")

    # layout

    def action_maximize_detail(self) -> None:
        screen = self.screen_stack[0]
        if screen.maximized is not None:
            screen.minimize()
        else:
            screen.maximize(self.detail, container=False)

    def action_toggle_sessions(self) -> None:
        self.sessions_hidden = not self.sessions_hidden
        self._fit_width(self.size.width)

    def action_cycle_sort(self) -> None:
        pane = self._main(SessionsPane)
        pane.cycle_sort()
        notify_plain(self, f"sessions sorted by {pane.sort_mode}", timeout=2)

    def action_cycle_state(self) -> None:
        pane = self._main(SessionsPane)
        pane.cycle_state()
        notify_plain(self, f"sessions shown: {pane.state_mode}", timeout=2)

    def action_token_chart(self) -> None:
        model = self.model
        if model is None:
            return
        tokens, compacts = turns_of(model.steps)
        so_far = f" · the last {fmt_int(len(model.steps))} steps, read so far" if model.partial is not None else ""
        self.push_screen(TokenChart(f"tokens per turn · {one_line(model.slug, 60)}{so_far}", tokens, compacts))


def make_app(
    store: Store,
    poll: bool = False,
    live_writer: Any = None,
    now: Callable[[], float] | float | None = None,
    root_label: str | None = None,
    watch: bool = True,
    select: str | None = None,
) -> CrabviewApp:
    """The app for ``store``: the CLI, tests, screenshots and benchmarks all call this."""
    return CrabviewApp(store, poll=poll, live_writer=live_writer, now=now, root_label=root_label, watch=watch, select=select)
