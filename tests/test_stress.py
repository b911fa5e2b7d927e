"""The short live stress run (the long one: tests/bench/stress.py).

A writer at 200 steps/s over 20 sessions, crashing (tmp leftovers),
rewriting meta and memory.db, deleting and recreating sessions, replacing
the root, renaming the root and sessions away and back, rewriting steps in
place, with symlinked sessions, while ``crabview tail -f --json`` follows
the root in its own process on a watch budget that polls half the dirs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

from stress import follow_with_tail  # noqa: E402

from support.stress import RECREATED, StressWriter, compare_stream  # noqa: E402


def test_tail_follows_a_store_under_fire_without_losing_a_step(tmp_path: Path) -> None:
    writer = StressWriter(tmp_path / "root", sessions=20, rate=200, seed=7, structural_every=1.0)
    res = follow_with_tail(tmp_path / "root", writer, seconds=8, max_watches=12)
    c = writer.counts
    assert c["steps"] > 800
    assert c["crashes"] > 0 and c["meta_rewrites"] > 0 and c["rewrites"] > 0
    assert c["root_replaced"] + c["root_away_and_back"] + c["session_away_and_back"] >= 4
    assert any("inotify + poll (10 dirs polled: watch limit" in x for x in res["stderr"]), res["stderr"][:5]
    assert res["errors"] == []
    assert (res["lost"], res["duplicated"], res["reordered"]) == (0, 0, 0)
    assert (res["rewrites_missed"], res["rewrites_extra"]) == (0, 0)
    assert len(res["latencies_ms"]) >= c["steps"]


def test_compare_stream_counts_what_it_should() -> None:
    # the checker itself must be able to fail
    written = {"a": [("step-000001", 0.0), ("step-000002", 0.0), (RECREATED, 0.0), ("step-000001", 1.0)]}
    ok = {"a": [("step-000001", 0.01), ("step-000002", 0.02), ("step-000001", 1.01)]}
    assert compare_stream(written, ok)["lost"] == 0
    swapped = {"a": [("step-000002", 0.02), ("step-000001", 0.03), ("step-000001", 1.04)]}
    r = compare_stream(written, swapped)
    assert (r["lost"], r["duplicated"], r["reordered"]) == (0, 0, 1)
    r = compare_stream(written, {"a": ok["a"][:2]})
    assert (r["lost"], r["duplicated"], r["reordered"]) == (1, 0, 0)
    r = compare_stream(written, {"a": ok["a"] + [("step-000002", 2.0)]})
    assert r["duplicated"] == 1
    r = compare_stream(written, ok, {"a": 2}, {"a": 1})
    assert (r["rewrites_missed"], r["rewrites_extra"]) == (1, 0)
    r = compare_stream(written, ok, {"a": 1}, {"a": 3})
    assert (r["rewrites_missed"], r["rewrites_extra"]) == (0, 2)
