"""A big load shares its reading with a child process; the verdicts are exactly the single reader's.

The child reads from the front of the load order while the loader reads
from the back (``session._load_steps``). Which file comes from where
depends on timing, so the properties below pin the split down: the child
reads everything, the two take turns a few files at a time, or the loader
reads alone; every way gives the same steps, values, tool calls, boundary
and problems, on sessions mixing every kind of hostile entry.
"""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crabview.store.session as session_mod
from support.sessions import KINDS, build, everything, text
from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.childread import ChildReader
from crabview.store.decode import encode
from crabview.store.session import LAZY, load_session


class ChildReadsAll(ChildReader):
    """Waits for the child before every answer: the loader reads nothing itself until the child is done."""

    def poll(self, limit=None):
        while True:
            got = super().poll(limit)
            if got or self.eof:
                return got
            select.select([self.fd], [], [], 5.0)


class TakingTurns(ChildReader):
    """Hands over at most three files per look, and every other look nothing: the two readers interleave."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.pending: list = []
        self.looks = 0

    def poll(self, limit=None):
        self.looks += 1
        if self.looks % 2:
            return []
        while not self.pending and not self.eof:
            self.pending += super().poll(limit)
            if not self.pending and not self.eof:
                select.select([self.fd], [], [], 5.0)
        got, self.pending = self.pending[:3], self.pending[3:]
        return got


class NoChild(ChildReader):
    @classmethod
    def start(cls, *a, **k):
        return None


READERS = {"child reads all": ChildReadsAll, "taking turns": TakingTurns}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    contents=st.lists(KINDS, min_size=1, max_size=40),
    tmp_bits=st.lists(st.booleans(), min_size=40, max_size=40),
    lazy=st.booleans(),
)
def test_shared_reading_gives_the_single_readers_verdicts(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, contents, tmp_bits, lazy
) -> None:
    d = build(tmp_path_factory.mktemp("s"), contents, tmp_bits)
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 0 if lazy else 10**9)
    monkeypatch.setattr(session_mod, "ChildReader", NoChild)
    single = everything(load_session(d))
    assert (single[1] is not None) == lazy
    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(session_mod, "_BACK_BATCH", 2)
    for label, reader in READERS.items():
        monkeypatch.setattr(session_mod, "ChildReader", reader)
        assert everything(load_session(d)) == single, label


def test_the_child_really_reads(writer: DaemonWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared path is taken, and the child's share arrives (else the property proves nothing)."""
    slug = writer.create_session("Crab", "user")
    for i in range(300):
        writer.append_raw(slug, text(f"line {i}"))
    seen: list[int] = []

    class Counting(ChildReadsAll):
        def poll(self, limit=None):
            got = super().poll()
            seen.append(len(got))
            return got

    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(session_mod, "ChildReader", Counting)
    s = load_session(writer.sessions_dir / slug)
    assert sum(seen) == 300
    assert [x.name for x in s.steps] == [f"step-{i:06d}" for i in range(1, 301)]
    assert all(x.kind == m.KIND_ENTRY for x in s.steps)


def test_a_child_that_dies_leaves_the_loader_to_read_the_rest(writer: DaemonWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    slug = writer.create_session("Crab", "user")
    for i in range(200):
        writer.append_raw(slug, text(f"line {i}"))

    class Dies(ChildReader):
        def poll(self, limit=None):
            got = super().poll()
            if got:
                self.proc.kill()
                self.eof = True  # what remains of the stream is never read
                return got[:5]
            return got

    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(session_mod, "_BACK_BATCH", 1)
    monkeypatch.setattr(session_mod, "ChildReader", Dies)
    s = load_session(writer.sessions_dir / slug)
    assert [x.name for x in s.steps] == [f"step-{i:06d}" for i in range(1, 201)]
    assert [x.stored.message.content[0].text for x in s.steps] == [f"line {i}" for i in range(200)]
    assert not [x for x in s.steps if x.stored is LAZY]


def test_the_child_is_gone_after_the_load(writer: DaemonWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    slug = writer.create_session("Crab", "user")
    for i in range(50):
        writer.append_raw(slug, text(f"line {i}"))
    readers: list[ChildReader] = []

    class Recorded(ChildReader):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            readers.append(self)

    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(session_mod, "ChildReader", Recorded)
    load_session(writer.sessions_dir / slug)
    assert len(readers) == 1
    assert readers[0].proc.returncode is not None  # reaped, not a zombie
    assert not readers[0].feeder.is_alive()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    contents=st.lists(KINDS, min_size=1, max_size=30),
    tmp_bits=st.lists(st.booleans(), min_size=30, max_size=30),
    replay_only=st.booleans(),
    reader=st.sampled_from(sorted(READERS)),
)
def test_a_streamed_walk_read_by_the_child_gives_the_values_of_a_full_load(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, contents, tmp_bits, replay_only, reader
) -> None:
    """``read_ahead`` over a lazy session has a child read the files: every value is the one a load that keeps them has."""
    d = build(tmp_path_factory.mktemp("w"), contents, tmp_bits)
    monkeypatch.setattr(session_mod, "ChildReader", NoChild)
    kept = load_session(d)  # values kept (under the lazy threshold)
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 0)
    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 1)
    lazy = load_session(d)
    assert [x.name for x in lazy.steps] == [x.name for x in kept.steps]
    started: list[int] = []

    class Counting(READERS[reader]):
        @classmethod
        def start(cls, *a, **k):
            r = super().start(*a, **k)
            started.append(1)
            return r

    monkeypatch.setattr(session_mod, "ChildReader", Counting)
    indices = lazy.replay_indices if replay_only else None
    walked = [(i, st.name, st.value) for i, st in session_mod.read_ahead(lazy.steps, indices)]
    want = [(i, kept.steps[i].name, kept.steps[i].value) for i in (indices if indices is not None else range(len(kept.steps)))]
    assert walked == want
    if sum(1 for i in (indices if indices is not None else range(len(lazy.steps))) if lazy.steps[i].stored is LAZY) >= 1:
        assert started, "the child path was taken"


def test_a_walk_stopped_early_leaves_no_child(writer: DaemonWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    slug = writer.create_session("Crab", "user")
    for i in range(40):
        writer.append_raw(slug, text(f"line {i}"))
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 0)
    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 1)
    s = load_session(writer.sessions_dir / slug)
    readers: list = []

    class Kept(ChildReader):
        @classmethod
        def start(cls, *a, **k):
            r = super().start(*a, **k)
            readers.append(r)
            return r

    monkeypatch.setattr(session_mod, "ChildReader", Kept)
    walk = session_mod.read_ahead(s.steps)
    first = [next(walk)[1].value.message.content[0].text for _ in range(3)]
    walk.close()
    assert first == ["line 0", "line 1", "line 2"]
    assert readers and readers[0].proc.poll() is not None, "the child is gone once the walk stops"
