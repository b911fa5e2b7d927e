"""Regressions for defects a code review found (each test fails without its fix)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import decode_meta, decode_step, decode_step_exact, salvage
from crabview.store.memory import load_memory
from crabview.store.session import load_session
from crabview.store.watch import MemoryChanged, StepsAdded

from test_live import Collector  # noqa: E402


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def test_integers_past_4300_digits_are_read_like_serde_json() -> None:
    big = b"1" * 5000
    meta = b'{"agent":"a","created_by":"b","created_at":"c","x":' + big + b"}"
    assert decode_meta(meta).meta is not None  # an unknown key's value is skipped unread
    step = b'{"message":{"role":"user","content":[]},"x":' + big + b"}"
    for d in (decode_step(step), decode_step_exact(step)):
        assert d.kind == "unparsable" and d.error == "number out of range"
    assert salvage(step).json_complete  # and salvage does not raise


def test_salvage_survives_any_depth() -> None:
    for data in (b"[" * 5000 + b"]" * 5000, b"[" * 5000, b'{"a":' * 3000):
        sv = salvage(data)
        assert sv.text


def test_fast_path_reads_huge_integers_as_f64_like_the_daemon() -> None:
    data = b'{"message":{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{"n":123456789012345678901234567890}}]}}'
    assert decode_step(data).value == decode_step_exact(data).value
    assert decode_step(data).value.message.content[0].input["n"] == 1.2345678901234568e29


@pytest.mark.parametrize("name", ["step-000002.tmp.1.2", "step-abc"])
def test_a_compact_under_any_name_is_checked_for_its_archive(writer: DaemonWriter, name: str) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("x"))
    (writer.sessions_dir / slug / name).write_bytes(b'{"archive_name":"crab-user-1-9","archived_at":"t"}')
    s = load_session(writer.sessions_dir / slug, load_memory(writer.root / "memory.db"))
    assert s.boundary is not None and s.boundary.name == name
    assert [p.file for p in s.problems if p.code == "archive_missing"] == [name]


def test_step_000000_does_not_hide_a_gap(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    d = writer.sessions_dir / slug
    for n in ("step-000000", "step-000002"):
        (d / n).write_bytes(b'{"message":{"role":"user","content":[]}}')
    gaps = [p for p in load_session(d).problems if p.code == "step_gap"]
    assert len(gaps) == 1 and "1 step number(s) missing: 1" in gaps[0].reason


def test_refresh_of_meta_keeps_entry_names_true(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    d = writer.sessions_dir / slug
    s = load_session(d)
    (d / "meta").unlink()
    s.refresh(["meta"])
    assert s.entry_names == load_session(d).entry_names and "meta" not in s.entry_names
    writer.touch_meta(slug, title="back")
    s.refresh(["meta"])
    assert s.entry_names == load_session(d).entry_names and "meta" in s.entry_names


def test_a_tmp_in_flight_in_a_new_session_dir_is_not_flashed(writer: DaemonWriter) -> None:
    with Collector(writer.root, poll=False, tmp_grace=0.5) as c:
        d = writer.sessions_dir / "crab_new_1"
        d.mkdir()
        tmp = d / "step-000001.tmp.1.2"
        tmp.write_bytes(b'{"message":')
        time.sleep(0.1)  # the watcher sees the new dir with the tmp in it
        tmp.write_bytes(b'{"message":{"role":"user","content":[]}}')
        os.rename(tmp, d / "step-000001")
        c.wait(lambda: "step-000001" in c.added("crab_new_1"))
        time.sleep(0.7)  # past the grace: a leftover would be reported by now
        assert [n for n in c.added("crab_new_1") if ".tmp." in n] == []


def test_watching_one_session_still_sees_memory_db(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("x"))
    with Collector(writer.sessions_dir / slug, poll=False) as c:
        writer.compact(slug, "summary")  # rewrites memory.db, then appends the compact step
        c.wait(lambda: any(isinstance(e, MemoryChanged) for e in c.events), timeout=5)
        c.wait(lambda: any(isinstance(e, StepsAdded) for e in c.events))
        first_mem = next(i for i, e in enumerate(c.events) if isinstance(e, MemoryChanged))
        first_step = next(i for i, e in enumerate(c.events) if isinstance(e, StepsAdded))
        assert first_mem <= first_step + 1  # memory.db is re-read no later than the batch with the step
