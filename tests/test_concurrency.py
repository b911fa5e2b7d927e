"""One concurrency model: a session's caches stay whole under threads (the TUI's workers)."""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

import pytest

import crabview.store.session as session_mod
from crabview.demo import DaemonWriter, turn
from crabview.render.text import ToolIndex, summary
from crabview.store.session import LAZY, load_session


@pytest.fixture
def lazy_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    w = DaemonWriter(tmp_path / "store")
    slug = w.create_session("Crab", "user", "threads")
    rng = random.Random(1)
    for i in range(40):
        turn(w, slug, rng, i)
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 10)
    s = load_session(tmp_path / "store" / "sessions" / slug)
    assert s.source is not None and any(st.stored is LAZY for st in s.steps)
    s.source.maxsize = 8  # evictions on nearly every read
    s.source.cache = YieldingDict()
    return s


class YieldingDict(dict):
    """The LRU's dict, yielding the GIL inside each operation: a race shows on every run, not one in 10^5."""

    def __delitem__(self, key):
        time.sleep(0.0001)
        super().__delitem__(key)

    def __setitem__(self, key, value):
        time.sleep(0.0001)
        super().__setitem__(key, value)


def test_summary_from_three_threads_never_raises(lazy_session) -> None:
    s = lazy_session
    tools = ToolIndex(s.steps)
    want = [summary(st, tools, 200) for st in s.steps]
    errors: list[BaseException] = []
    got: list[list[str]] = [[], [], []]

    def run(k: int) -> None:
        try:
            for _ in range(20):
                got[k] = [summary(st, tools, 200) for st in s.steps]
        except BaseException as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show on every run
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert got == [want, want, want]
    assert len(s.source.cache) <= s.source.maxsize


def test_refresh_and_derived_facts_under_threads(lazy_session, tmp_path: Path) -> None:
    """A refresh appending steps while other threads read derived facts: no error, final facts exact."""
    s = lazy_session
    w = DaemonWriter(tmp_path / "store")
    rng = random.Random(2)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                s.problems, s.kind_counts(), s.usage_totals(), s.replay_indices, s.next_step
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    for t in readers:
        t.start()
    try:
        for i in range(10):
            before = set(s.entry_names)
            turn(w, s.slug, rng, 100 + i)
            import os

            s.refresh(sorted(set(os.listdir(s.path)) - before))
    finally:
        stop.set()
        for t in readers:
            t.join()
        sys.setswitchinterval(old)
    assert errors == []
    fresh = load_session(s.path)
    assert s.kind_counts() == fresh.kind_counts()
    assert len(s.steps) == len(fresh.steps)
