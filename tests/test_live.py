"""Live watching: the watcher, incremental refresh and ``tail -f``.

A daemon-like writer (tmp + rename, counter rule, atomic meta) writes while
the watcher runs. Every wait polls with a deadline; nothing sleeps blind.
Each watcher test runs twice: with inotify and with the names-only poller.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.follow import Collector, LineReader  # noqa: E402  (the live tests' shared followers)
from support.follow import spawn_tail as _spawn_tail  # noqa: E402

from crabview.demo import DaemonWriter, turn
from crabview.store import models as m
from crabview.store.session import load_session
from crabview.store.watch import (
    MetaChanged,
    SessionAdded,
    SessionRemoved,
    StepsAdded,
    step_names_for,
)


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


MODES = [pytest.param(False, id="inotify"), pytest.param(True, id="poll")]


@pytest.mark.parametrize("poll", MODES)
def test_appended_steps_arrive_once_each_in_order(writer: DaemonWriter, poll: bool) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("before the watcher"))
    with Collector(writer.root, poll) as c:
        paths = [writer.append(slug, entry(f"live {i}")).name for i in range(20)]
        c.wait(lambda: len(c.added(slug)) >= 20)
        got = c.added(slug)
    assert got == paths  # once each, in load order, nothing from before the watcher
    assert "step-000001" not in got


@pytest.mark.parametrize("poll", MODES)
def test_new_session_is_picked_up_with_its_first_files(writer: DaemonWriter, poll: bool) -> None:
    with Collector(writer.root, poll) as c:
        slug = writer.create_session("researcher", "tg:12345")
        first = writer.append(slug, entry("hello")).name
        c.wait(lambda: first in c.added(slug))
        assert any(isinstance(e, SessionAdded) and e.slug == slug for e in c.events)
        assert c.added(slug).count(first) == 1


@pytest.mark.parametrize("poll", MODES)
def test_deleted_session_is_reported(writer: DaemonWriter, poll: bool) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("doomed"))
    with Collector(writer.root, poll) as c:
        shutil.rmtree(writer.sessions_dir / slug)
        c.wait(lambda: any(isinstance(e, SessionRemoved) and e.slug == slug for e in c.events))


@pytest.mark.parametrize("poll", MODES)
def test_burst_of_1000_steps_loses_nothing(writer: DaemonWriter, poll: bool) -> None:
    slug = writer.create_session("Crab", "burst")
    with Collector(writer.root, poll) as c:
        paths = [writer.append(slug, entry(f"burst {i}")).name for i in range(1000)]
        c.wait(lambda: len(c.added(slug)) >= 1000, timeout=20)
        got = c.added(slug)
    assert len(got) == 1000 and len(set(got)) == 1000
    assert sorted(got) == paths  # nothing lost or duplicated
    # within each batch, names come in load order
    for e in c.events:
        if isinstance(e, StepsAdded):
            assert e.names == sorted(e.names)


@pytest.mark.parametrize("poll", MODES)
def test_meta_rewrite_is_reported(writer: DaemonWriter, poll: bool) -> None:
    slug = writer.create_session("Crab", "user")
    with Collector(writer.root, poll) as c:
        for i in range(3):  # atomic rewrites free and reuse inodes: each must still count
            writer.touch_meta(slug, title=f"title {i}")
        c.wait(lambda: any(isinstance(e, MetaChanged) and e.slug == slug for e in c.events))


@pytest.mark.parametrize("poll", MODES)
def test_inflight_tmp_is_not_flashed_but_a_leftover_is_reported(writer: DaemonWriter, poll: bool) -> None:
    slug = writer.create_session("Crab", "user")
    with Collector(writer.root, poll, tmp_grace=0.3) as c:
        for i in range(50):
            writer.append(slug, entry(f"x{i}"))  # each write creates and renames a tmp
        leftover = writer.leave_tmp(slug, b'{"message":{"role":"user"', whole=False)
        c.wait(lambda: leftover.name in c.added(slug), timeout=5)
        tmp_names = [n for n in c.added(slug) if ".tmp." in n]
    assert tmp_names == [leftover.name]


def test_refresh_reads_only_new_files_and_moves_the_boundary(writer: DaemonWriter, monkeypatch) -> None:
    slug = writer.create_session("Crab", "user")
    for i in range(30):
        writer.append(slug, entry(f"old {i}"))
    s = load_session(writer.sessions_dir / slug)
    assert s.boundary is None and len(s.replay_indices) == 30

    reads: list[str] = []
    import crabview.store.session as session_mod

    real = session_mod.load_step

    def counting(dir_path, name):
        reads.append(name)
        return real(dir_path, name)

    monkeypatch.setattr(session_mod, "load_step", counting)
    compact = writer.compact(slug, "summary of 30 entries")
    after = writer.append(slug, entry("after the compact")).name
    new_names = sorted(n for n in os.listdir(writer.sessions_dir / slug) if n.startswith("step-"))[-2:]
    res = s.refresh(new_names)
    assert sorted(reads) == new_names  # one read per new file, nothing else
    assert res.added == new_names
    assert s.boundary is not None and s.boundary.archive_name == compact
    assert [s.steps[i].name for i in s.replay_indices] == [after]
    assert s.archive_text == f"[archived context unavailable: {compact}]"  # session loaded without memory


def test_step_names_for_maps_events_to_refresh_names() -> None:
    evs = [StepsAdded("a", ["step-000002"]), MetaChanged("a"), StepsAdded("b", ["step-000001"])]
    assert step_names_for(evs, "a") == ["step-000002", "meta"]


# --- tail -f as a separate process -------------------------------------------------


@pytest.mark.parametrize("poll", MODES)
def test_tail_follow_json_prints_each_new_step_once_in_order(writer: DaemonWriter, poll: bool) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("already there"))
    proc = _spawn_tail([str(writer.sessions_dir / slug), "-n", "1", "-f", "--json"] + (["--poll"] if poll else []))
    try:
        out = LineReader(proc.stdout)
        out.wait_for(lambda ls: len(ls) >= 1)
        written = [writer.append(slug, entry(f"live {i}")).name for i in range(10)]
        name = writer.compact(slug, "compacted")
        bad = writer.append_raw(slug, b'{"message": oops').name
        lines = out.wait_for(lambda ls: len(ls) >= 13)
        objs = [json.loads(x) for x in lines]
        files = [o["file"] for o in objs]
        assert files[0] == "step-000001"
        assert files[1:11] == written
        assert objs[11]["kind"] == "compact" and objs[11]["value"]["archive_name"] == name and objs[11]["boundary"] is True
        assert objs[12]["file"] == bad and objs[12]["kind"] == "unparsable" and objs[12]["error"]
        assert all(o["slug"] == slug for o in objs)
        assert len(files) == len(set(files))
    finally:
        proc.terminate()
        proc.wait(5)


def test_tail_follow_exits_when_the_session_is_deleted(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("x"))
    proc = _spawn_tail([str(writer.sessions_dir / slug), "-f"])
    try:
        out = LineReader(proc.stdout)
        out.wait_for(lambda ls: len(ls) >= 1)
        shutil.rmtree(writer.sessions_dir / slug)
        rc = proc.wait(10)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0
    assert "deleted" in err and "Traceback" not in err


def test_tail_follow_on_a_root_prefixes_slugs_and_sees_new_sessions(writer: DaemonWriter) -> None:
    first = writer.create_session("Crab", "user")
    writer.append(first, entry("x"))
    proc = _spawn_tail([str(writer.root), "-n", "0", "-f"])
    try:
        out = LineReader(proc.stdout)
        err = LineReader(proc.stderr)
        err.wait_for(lambda ls: any("following" in x for x in ls))  # the watcher is live
        second = writer.create_session("coder", "delegate:42")
        turn(writer, second, random.Random(3), 1)
        writer.append(first, entry("y"))
        lines = out.wait_for(lambda ls: len(ls) >= 8)
        assert [x for x in lines if x.startswith(second + " ")][:1], lines
        assert sum(x.startswith(second + " ") for x in lines) == 7
        assert sum(x.startswith(first + " ") for x in lines) == 1
        err.wait_for(lambda ls: any(f"new session {second}" in x for x in ls))
    finally:
        proc.terminate()
        proc.wait(5)


def test_tail_without_follow_prints_last_n(demo_store: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "crabview", "tail", str(demo_store / "sessions" / "crab_user_1"), "-n", "4"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    s = load_session(demo_store / "sessions" / "crab_user_1")
    assert [ln.split()[1] for ln in lines] == [st.name for st in s.steps[-4:]]


@pytest.mark.parametrize("poll", [pytest.param(False, id="inotify")])
def test_session_deleted_and_recreated_with_reused_inodes_is_a_new_session(writer: DaemonWriter, poll: bool) -> None:
    # Inode numbers freed by the deletion come straight back to the new
    # files: a watcher that trusts inodes alone sees nothing new. (Found by
    # tests/bench/stress.py: whole generations of steps went missing.)
    slug = writer.create_session("Crab", "user")
    with Collector(writer.root, poll) as c:
        first = [writer.append(slug, entry(f"gen1 {i}")).name for i in range(5)]
        c.wait(lambda: len(c.added(slug)) >= 5)
        for _ in range(3):
            shutil.rmtree(writer.sessions_dir / slug)
            (writer.sessions_dir / slug).mkdir()
            writer._counters.pop(slug, None)
            again = [writer.append(slug, entry(f"again {i}")).name for i in range(5)]
            assert again == first
        c.wait(lambda: all(c.added(slug).count(n) >= 2 for n in first), timeout=5)
        assert any(isinstance(e, SessionRemoved) and e.slug == slug for e in c.events)
