"""Live, as a property: whatever sequence of things happens to a store, the
watcher reports each new step once, each rewrite once, and nothing else.

Hypothesis draws sequences of appends, in-place rewrites, sessions deleted
and recreated, sessions and the whole root renamed away and back, and the
root replaced by a new one. After every operation a sentinel step in a
"clock" session is written and awaited (inotify delivers in order), and the
watcher's reports so far must equal the model's, exactly.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import encode
from support.follow import Collector

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 1)),
        st.tuples(st.just("rewrite"), st.integers(0, 1)),
        st.tuples(st.just("recreate"), st.integers(0, 1)),
        st.tuples(st.just("session_away"), st.integers(0, 1)),
        st.tuples(st.just("root_away"), st.just(0)),
        st.tuples(st.just("root_replace"), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


class Store:
    """The writer and the model: what a follower must have been told."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "root"
        self.w = DaemonWriter(self.root)
        self.slugs = [self.w.create_session("Crab", f"u{k}") for k in range(2)]
        self.clock = self.w.create_session("clock", "tick")
        self.expected: Counter = Counter()
        self.ticks = 0

    def sdir(self, slug: str) -> Path:
        return self.w.sessions_dir / slug

    def steps(self, slug: str) -> list[str]:
        return sorted(n for n in os.listdir(self.sdir(slug)) if n.startswith("step-"))

    def do(self, op: str, k: int) -> None:
        w, slug = self.w, self.slugs[k]
        if op == "append":
            self.expected[("added", slug, w.append(slug, entry(f"x{k}")).name)] += 1
        elif op == "rewrite":
            names = self.steps(slug)
            if names:
                p = self.sdir(slug) / names[-1]
                grown = p.read_bytes()[:-1] + b', "pad": "' + b"p" * (len(p.read_bytes()) % 7 + 1) + b'"}'
                with open(p, "r+b") as f:  # in place, and longer: another size whatever the clock says
                    f.write(grown)
                self.expected[("changed", slug, names[-1])] += 1
        elif op == "recreate":
            shutil.rmtree(self.sdir(slug))
            w._counters.pop(slug, None)
            self.sdir(slug).mkdir()
            w.write_meta(slug, m.Meta(agent="Crab", created_by=f"u{k}", created_at=w.tick(0)))
            self.expected[("added", slug, w.append(slug, entry("again")).name)] += 1
        elif op == "session_away":
            os.rename(self.sdir(slug), self.base / "parked")
            os.rename(self.base / "parked", self.sdir(slug))
        elif op == "root_away":
            os.rename(self.root, self.base / "away")
            os.rename(self.base / "away", self.root)
        elif op == "root_replace":
            self.ticks += 1
            os.rename(self.root, self.base / f"old{self.ticks}")
            self.w = DaemonWriter(self.root)
            for s in self.slugs:
                agent, user = ("Crab", f"u{self.slugs.index(s)}")
                assert self.w.create_session(agent, user) == s
                self.expected[("added", s, self.w.append(s, entry("new store")).name)] += 1
            assert self.w.create_session("clock", "tick") == self.clock

    def tick(self) -> str:
        return self.w.append(self.clock, entry("tick")).name


def reports(c: Collector, slugs: list[str]) -> Counter:
    from crabview.store import watch

    got: Counter = Counter()
    for e in list(c.events):
        if isinstance(e, (watch.StepsAdded, watch.StepsChanged)) and e.slug in slugs:
            kind = "added" if isinstance(e, watch.StepsAdded) else "changed"
            for n in e.names:
                got[(kind, e.slug, n)] += 1
    return got


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_every_step_and_rewrite_is_reported_once_whatever_happens(tmp_path_factory, ops) -> None:
    base = tmp_path_factory.mktemp("live")
    s = Store(base)
    ticks = 0
    with Collector(s.root) as c:
        for op, k in ops + [("append", 0)]:
            s.do(op, k)
            s.tick()
            ticks += 1
            # every tick is one new step of the clock: once this one is
            # reported, everything written before it has been
            c.wait(lambda: sum(reports(c, [s.clock]).values()) >= ticks, timeout=5)
            assert reports(c, s.slugs) == s.expected, (op, k, ops)
        assert sum(reports(c, [s.clock]).values()) == ticks
