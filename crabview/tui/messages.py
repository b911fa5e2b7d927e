"""Typed messages that workers post back to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from ..store.session import Session
from .model import SessionStats


@dataclass
class SummariesLoaded(Message):
    summaries: list[Any]  # store.SessionSummary
    latest: dict[tuple[str, str], str | None]
    full: bool = True  # False: only these slugs were re-read


@dataclass
class StatsLoaded(Message):
    stats: dict[str, SessionStats]


@dataclass
class SessionLoaded(Message):
    session: Session
    seconds: float
    model: Any  # TimelineModel, built in the worker
    open_id: int = 0  # which open it answers (app.select_session numbers them): a stopped one's is dropped


@dataclass
class SessionPartial(Message):
    """The end of a session, shown while the rest is read (store/opening.py)."""

    session: Session  # a stand-in: ``session.partial`` says how much it holds
    model: Any  # TimelineModel of the stand-in, built in the worker
    open_id: int = 0


@dataclass
class LoadProgress(Message):
    """How much of the session being opened is read (``done`` of ``total`` steps)."""

    slug: str
    done: int
    total: int
    phase: str = "reading"  # reading | rows (building the view of a read session)
    open_id: int = 0


@dataclass
class SessionRefreshed(Message):
    slug: str
    added: list[str]
    changed: bool  # anything other than a pure append
    meta_changed: bool


@dataclass
class SessionsRemoved(Message):
    slugs: list[str]


@dataclass
class MemoryReloaded(Message):
    memory: Any


@dataclass
class WatcherStatus(Message):
    mode: str
    reason: str = ""


@dataclass
class BytesLoaded(Message):
    slug: str
    name: str
    data: bytes | None
    error: str | None
    salvage: Any = None


@dataclass
class SearchDone(Message):
    gen: int  # the search it answers (older generations are dropped)
    query: str
    indices: list[int]  # matching step indices, ascending
    start: int  # the first step index searched (0: a full search; >0: only appended steps)
    covered: int  # steps searched up to (exclusive)
    version: int  # the TimelineModel version the indices belong to
    quiet: bool = False  # a re-search after new steps: no jump, no "no match" notice
    seconds: float = 0.0
    move: bool = True  # go to the first match (False: the same search re-run over a bigger model)


@dataclass
class SearchProgress(Message):
    gen: int
    done: int
    total: int


@dataclass
class GlobalSearchDone(Message):
    gen: int
    query: str
    hits: list[tuple[str, str, str]] = field(default_factory=list)  # (slug, step name, matching text), the first SEARCH_ALL_CAP
    total: int = -1  # every match counted (-1: len(hits))
    cancelled: bool = False


@dataclass
class GlobalSearchProgress(Message):
    gen: int
    sessions_done: int
    sessions: int
    matches: int


@dataclass
class FactsReady(Message):
    model: Any  # TimelineModel whose .facts were just computed


@dataclass
class ProblemsCollected(Message):
    problems: list[Any]  # store.problems.Problem, store-wide then per session
    sessions: int
