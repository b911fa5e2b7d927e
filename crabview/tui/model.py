"""Pure, Textual-free view models for the browser.

``TimelineModel`` turns a loaded ``Session`` into display rows (one per
step file, plus gap rows) in the daemon's load order. It keeps its own
snapshot of the step list so the UI never reads a list another thread is
mutating, and grows incrementally when steps are appended at the end.
"""

from __future__ import annotations

import datetime as dt
import itertools
from bisect import bisect_left, bisect_right
from typing import Any, Callable, NamedTuple

import msgspec

from ..render.text import ToolIndex, summary
from ..store import models as m
from ..store.layout import step_number
from ..store.problems import SEVERITIES, meta_problems
from ..store.session import Session, StepFile

ROW_STEP = 0
ROW_COMPACT = 1
ROW_GAP = 2
ROW_META = 3  # the session's meta, pinned as the first row
META_INDEX = -2  # the "step index" of the meta row (-1: nothing)


_VERSIONS = itertools.count(1)


class Row(msgspec.Struct, frozen=True, gc=False):
    """One display row (a Struct, not a NamedTuple: a million are built per open, 5x faster)."""

    kind: int  # ROW_STEP | ROW_COMPACT | ROW_GAP
    index: int  # step index (ROW_GAP: index of the step after the gap)
    extra: int = 0  # ROW_GAP: how many numbers are missing; ROW_STEP: 1 = out of numeric order


class TimelineModel:
    """Rows of one session, plus the facts each row needs to render."""

    def __init__(self, session: Session, check: Callable[[], None] | None = None):
        """``check`` is called now and then while the rows are built (it may raise to stop)."""
        self.session = session
        self._check = check
        self.slug = session.slug
        self.steps: list[StepFile] = []
        self.rows: list[Row] = []
        self.row_of_step: list[int] = []  # step index -> row index
        self.tools = ToolIndex()
        self._summary: dict[int, str] = {}
        self._prev_num: int | None = None
        self._last_num: int | None = None
        self.problem_rows: list[int] = []  # errors and warnings: where `e` stops
        self.info_rows: list[int] = []  # lenient decodes
        self.compact_rows: list[int] = []
        # new on every rebuild, unique across models (a stand-in and the whole
        # session are two models of one slug): indices of another version mean other steps
        self.version = 0
        self.rebuild()

    # -- building -------------------------------------------------------------

    def _snapshot_facts(self) -> None:
        with self.session.lock:  # a refresh in the watcher's thread changes these
            self._snapshot_locked()

    def _snapshot_locked(self) -> None:
        s = self.session
        self.meta_status = s.meta_status
        self.meta_error = s.meta_error
        self.meta = s.meta
        self.meta_offset = s.meta_decode.offset if s.meta_decode is not None else None
        self.meta_notes = s.meta_decode.notes if s.meta_decode is not None else ()
        self.listed = s.listed
        self.meta_problems = meta_problems(s)
        self.replay_start = s.replay_start
        self.boundary_index = s.boundary.index if s.boundary is not None else None
        self.load_status = s.load_status
        self.partial = s.partial  # a stand-in's PartialLoad: rows are the end of the session only
        mem = s.memory
        self.archive_found: dict[str, bool] = {}
        for i in self.compact_rows_steps():
            v = self.steps[i].value
            self.archive_found[v.archive_name] = mem is not None and mem.resolve(v.archive_name) is not None

    def compact_rows_steps(self) -> list[int]:
        return [self.rows[r].index for r in self.compact_rows if self.steps[self.rows[r].index].kind == m.KIND_COMPACT]

    def rebuild(self) -> None:
        self.version = next(_VERSIONS)
        with self.session.lock:
            self.steps = list(self.session.steps)
        self.rows = [Row(ROW_META, META_INDEX)]
        self.row_of_step = []
        self.problem_rows = []
        self.info_rows = []
        self.compact_rows = []
        self._summary.clear()
        self._prev_num = None
        self._last_num = None
        self.tools = ToolIndex(self.steps)
        self._append_rows(0)
        self._snapshot_facts()

    def extend(self) -> int:
        """Pick up steps appended at the end of the load order; returns how many."""
        with self.session.lock:
            new = list(self.session.steps)
        old = len(self.steps)
        if len(new) < old or (old and new[old - 1] is not self.steps[old - 1]):
            self.rebuild()
            return -1
        added = new[old:]
        self.steps.extend(added)
        for st in added:
            self.tools.add(st)
        self._append_rows(old)
        self._snapshot_facts()
        return len(added)

    def _missing_between(self, lo: int, hi: int, numbers: list[int]) -> int:
        """Numbers strictly between ``lo`` and ``hi`` that no step carries.

        In byte order step-1000000 loads right after step-000004, while
        200000 and 999999 load later: they are not missing.
        """
        return hi - lo - 1 - (bisect_left(numbers, hi) - bisect_right(numbers, lo))

    def _all_numbers(self) -> list[int]:
        out = []
        for st in self.steps:
            if ".tmp." not in st.name:
                n = step_number(st.name)
                if n is not None:
                    out.append(n)
        out.sort()
        return out

    def _append_rows(self, start: int) -> None:
        rows = self.rows
        prev = self._prev_num  # the largest number so far: a smaller one loads out of numeric order
        last = self._last_num  # the previous row's number: gaps are between neighbours
        steps = self.steps
        numbers: list[int] | None = None  # built on the first gap only
        check = self._check
        for i in range(start, len(steps)):
            if check is not None and not i & 0xFFFF:
                check()
            st = steps[i]
            name = st.name
            if len(name) == 11 and name[5:].isascii() and name[5:].isdigit():  # the common step-NNNNNN (str.isdigit alone takes ² and ١)
                n = int(name[5:])
            else:
                n = step_number(name) if ".tmp." not in name else None
            flag = 0
            if n is not None:
                if last is not None and n > last + 1:
                    # numbers between the two neighbours that no step carries (in byte
                    # order step-1000000 sits between step-100000 and step-100001: none)
                    if numbers is None:
                        numbers = self._all_numbers()
                    missing = self._missing_between(last, n, numbers)
                    if missing > 0:
                        rows.append(Row(ROW_GAP, i, missing))
                if prev is not None and n < prev:
                    flag = 1
                prev = n if prev is None or n > prev else prev
                last = n
            kind = st.kind
            self.row_of_step.append(len(rows))
            if kind == m.KIND_COMPACT or kind == m.KIND_LEGACY:
                self.compact_rows.append(len(rows))
                rows.append(Row(ROW_COMPACT, i, flag))
            else:
                if flag or kind == m.KIND_UNPARSABLE or kind == m.KIND_UNREADABLE or ".tmp." in name:
                    self.problem_rows.append(len(rows))
                elif st.notes:  # info only (a lenient decode): listed, not a stop for `e`
                    self.info_rows.append(len(rows))
                rows.append(Row(ROW_STEP, i, flag))
            if kind == m.KIND_COMPACT and self.session.memory is not None:
                pass
        self._prev_num = prev
        self._last_num = last
        # compacts whose archive is missing are problems too (checked at render/nav time)

    # -- queries ----------------------------------------------------------------

    def summary_of(self, i: int) -> str:
        s = self._summary.get(i)
        if s is None:
            s = summary(self.steps[i], self.tools, 400)
            if len(self._summary) > 4096:
                self._summary.clear()
            self._summary[i] = s
        return s

    def is_not_replayed(self, i: int) -> bool:
        return i < self.replay_start

    def nav_rows(self, which: str) -> list[int]:
        if which == "compact":
            return self.compact_rows
        if which == "problem":
            extra = [
                r
                for r in self.compact_rows
                if self.steps[self.rows[r].index].kind == m.KIND_COMPACT
                and not self.archive_found.get(self.steps[self.rows[r].index].value.archive_name, False)
            ]
            gaps = [r for r, row in enumerate(self.rows) if row.kind == ROW_GAP] if len(self.rows) < 200_000 else []
            meta = [0] if self.meta_problems else []
            return sorted(set(self.problem_rows) | set(extra) | set(gaps) | set(meta))
        return []

    def selectable(self, r: int) -> bool:
        return 0 <= r < len(self.rows) and self.rows[r].kind != ROW_GAP

    def compute_facts(self) -> "SessionFacts":
        """The O(steps) numbers for the header and the sessions pane (run in a worker)."""
        s = self.session
        self.facts = SessionFacts(s.kind_counts(), s.usage_totals(), self.tokens_per_turn()[-400:], stats_of(s))
        return self.facts

    facts: "SessionFacts | None" = None

    def tokens_per_turn(self) -> list[float]:
        # .stored, not .value: done events are always in memory, and asking
        # every lazy step for its value would re-read the whole session
        return [float(st.stored.usage.total_tokens) for st in self.steps if type(st.stored) is m.DoneEvent]


# --- sessions ------------------------------------------------------------------


class SessionStats(NamedTuple):
    steps: int
    compacts: int
    problems: int
    load_status: str
    kinds: dict[str, int]
    severities: dict[str, int] = {}  # error/warning/info -> how many problems

    @property
    def worst(self) -> str | None:
        for sev in SEVERITIES:
            if self.severities.get(sev):
                return sev
        return None


class SessionFacts(NamedTuple):
    counts: dict[str, int]
    usage: dict[str, int]
    spark: list[float]
    stats: SessionStats


def stats_of(s: Session) -> SessionStats:
    probs = s.problems
    sev = {k: 0 for k in SEVERITIES}
    for p in probs:
        sev[p.severity] = sev.get(p.severity, 0) + 1
    return SessionStats(len(s.steps), s.compact_count, len(probs), s.load_status, s.kind_counts(), sev)


def parse_ts(ts: str) -> float | None:
    if not ts:
        return None
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def relative(seconds_ago: float | None) -> str:
    if seconds_ago is None:
        return "-"
    s = int(seconds_ago)
    if s < 0:
        return "future"
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def group_key(slug: str, meta: Any) -> tuple[str, str]:
    from ..store.layout import parse_slug

    p = parse_slug(slug)
    if p is not None:
        return (p.agent, p.sender)
    return ("?", "unrecognised names")
