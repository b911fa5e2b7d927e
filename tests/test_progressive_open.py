"""Opening a session end first (store/opening.py) gives exactly a plain load, and honest stand-ins.

The property draws sessions mixing every kind of step entry (canonical,
lenient, unparsable, tmp leftovers, unreadable directories, FIFOs, odd
names), opens them with tiny tails, batches and budgets so that every split
is taken (the end alone, the end grown back to a boundary, the budget
running out, the front read by the child process), and checks:

- the whole session equals a plain ``load_session`` in every verdict,
  value, tool call, boundary, problem and load status;
- each stand-in holds a true suffix of the load order (the same steps the
  whole session ends with), says how much it holds, and claims nothing the
  whole session contradicts: a boundary it calls known is the replay
  boundary, a load verdict other than "pending" is the final one, and no
  gap is reported for numbers it has not read.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crabview.store.opening as opening_mod
import crabview.store.session as session_mod
from crabview.store.opening import LoadCancelled, open_progressively
from crabview.store.session import Session, load_session
from support.sessions import KINDS, build, everything, text


def verdicts(steps) -> list[tuple]:
    return [(x.name, x.kind, x.error, x.offset, x.size, x.notes, x.variants, x.stored) for x in steps]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    contents=st.lists(KINDS, min_size=0, max_size=40),
    tmp_bits=st.lists(st.booleans(), min_size=40, max_size=40),
    lazy=st.booleans(),
    child=st.booleans(),
    tail=st.integers(1, 6),
    back_batch=st.integers(1, 5),
    back_budget=st.integers(0, 30),
    no_meta=st.booleans(),
    handed=st.booleans(),
)
def test_end_first_is_a_plain_load_and_stand_ins_never_overclaim(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    contents,
    tmp_bits,
    lazy,
    child,
    tail,
    back_batch,
    back_budget,
    no_meta,
    handed,
) -> None:
    d = build(tmp_path_factory.mktemp("s"), contents, tmp_bits)
    if no_meta:
        os.unlink(d / "meta")
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 0 if lazy else 10**9)
    monkeypatch.setattr(opening_mod, "LAZY_THRESHOLD", 0 if lazy else 10**9)
    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 2 if child else 10**9)
    plain = load_session(d)
    stand_ins: list[Session] = []
    progress: list[tuple[int, int]] = []
    listed: list[list[str]] = []
    listing = (time.monotonic(), os.listdir(d)) if handed else None  # a listing the summaries made
    whole = open_progressively(
        Session(d), stand_ins.append, lambda done, total: progress.append((done, total)), listed.append, tail, back_batch, back_budget, listing
    )
    if handed:
        assert whole.listed_at == listing[0]
    assert everything(whole) == everything(plain)
    assert whole.next_step == plain.next_step and whole.replay_indices == plain.replay_indices
    assert listed == [[x.name for x in plain.steps]]
    total = len(plain.steps)
    assert progress[-1] == (total, total) and all(0 <= a <= b == total for a, b in progress)
    assert [a for a, _ in progress] == sorted(a for a, _ in progress)
    final = verdicts(plain.steps)
    for p in stand_ins:
        part = p.partial
        assert part is not None and part.total == total and 0 < part.first < total
        assert len(p.steps) == part.shown
        assert verdicts(p.steps) == final[part.first :], "a stand-in holds exactly the end of the load order"
        if part.boundary_known:
            assert plain.boundary is not None and p.boundary is not None
            assert (p.boundary.index + part.first, p.boundary.name, p.boundary.archive_name) == (
                plain.boundary.index,
                plain.boundary.name,
                plain.boundary.archive_name,
            )
        assert p.load_status == "pending" or p.load_status == plain.load_status
        assert not [x for x in p.problems if x.code == "step_gap"], "numbers not yet read are not missing"
        assert p.other_names == plain.other_names and p.meta_status == plain.meta_status
    if stand_ins:
        assert stand_ins[0].partial.shown == min(tail, total)
        assert [p.partial.first for p in stand_ins] == sorted((p.partial.first for p in stand_ins), reverse=True)


def test_a_session_past_the_tail_shows_its_end_then_its_last_boundary(writer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shape a browser sees: the last ``tail`` steps, then back to the last compact, then all."""
    slug = writer.create_session("Crab", "user")
    for i in range(30):
        writer.append_raw(slug, text(f"early {i}"))
    writer.compact(slug, "summary")
    for i in range(50):
        writer.append_raw(slug, text(f"late {i}"))
    d = writer.sessions_dir / slug
    stand_ins: list[Session] = []
    whole = open_progressively(Session(d), stand_ins.append, None, None, 10, 8, 1000)
    assert [p.partial.shown for p in stand_ins] == [10, 58]
    first, grown = stand_ins
    assert not first.partial.boundary_known and first.boundary is None and first.load_status == "pending"
    assert grown.partial.boundary_known and grown.steps[grown.boundary.index].name == "step-000031"
    assert whole.boundary.name == "step-000031" and whole.partial is None and whole.load_status == "ok"


def test_an_unreadable_step_in_the_end_is_certain_at_once(writer) -> None:
    slug = writer.create_session("Crab", "user")
    for i in range(20):
        writer.append_raw(slug, text(f"line {i}"))
    d = writer.sessions_dir / slug
    (d / "step-000021").mkdir()  # a read error: the daemon's load fails
    stand_ins: list[Session] = []
    open_progressively(Session(d), stand_ins.append, None, None, 3, 2, 0)
    assert stand_ins and stand_ins[0].load_status == "error"


def test_a_progress_callback_stops_the_open(writer, monkeypatch: pytest.MonkeyPatch) -> None:
    slug = writer.create_session("Crab", "user")
    for i in range(40):
        writer.append_raw(slug, text(f"line {i}"))
    monkeypatch.setattr(session_mod, "PARALLEL_THRESHOLD", 2)
    calls = []

    def stop(done: int, total: int) -> None:
        calls.append(done)
        raise LoadCancelled

    s = Session(writer.sessions_dir / slug)
    with pytest.raises(LoadCancelled):
        open_progressively(s, None, stop, None, 5, 5, 0)
    assert calls and s.steps == []


def test_an_unlistable_directory_says_why_like_a_plain_load(tmp_path: Path) -> None:
    d = tmp_path / "sessions" / "crab_user_1"
    d.parent.mkdir()
    d.write_bytes(b"not a directory")
    s = open_progressively(Session(d))
    assert s.dir_error == load_session(d).dir_error and s.load_status == "error"
