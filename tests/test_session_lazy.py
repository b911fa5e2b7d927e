"""Big sessions keep verdicts in memory and re-read values on use."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import crabview.store.session as session_mod
from crabview.demo import DaemonWriter, turn
from crabview.render.text import ToolIndex, session_json, summary
from crabview.store import models as m
from crabview.store.session import LAZY, load_session


@pytest.fixture
def big(writer: DaemonWriter, monkeypatch: pytest.MonkeyPatch) -> Path:
    slug = writer.create_session("Crab", "user")
    rng = random.Random(4)
    for i in range(6):
        turn(writer, slug, rng, i)
    writer.compact(slug, "the summary")
    turn(writer, slug, rng, 6)
    writer.append_raw(slug, b'{"message": torn')
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 10)
    return writer.sessions_dir / slug


def test_lazy_session_has_the_same_verdicts_and_values(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = load_session(big)
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 10**9)
    eager = load_session(big)
    assert lazy.source is not None and eager.source is None
    assert any(st.stored is LAZY for st in lazy.steps)
    # what derived facts need stays in memory: boundaries and done events
    for st in lazy.steps:
        if type(st.stored) in (m.Compact, m.DoneEvent):
            assert st.stored is not LAZY
    assert [(a.name, a.kind, a.error) for a in lazy.steps] == [(b.name, b.kind, b.error) for b in eager.steps]
    assert [a.value for a in lazy.steps] == [b.value for b in eager.steps]
    assert session_json(lazy) == session_json(eager)
    assert lazy.usage_totals() == eager.usage_totals()


def test_tool_pairing_needs_no_reread(big: Path) -> None:
    s = load_session(big)
    reads = s.source.reads
    tools = ToolIndex(s.steps)
    assert s.source.reads == reads  # built from what the load collected
    eager_tools = ToolIndex([st for st in s.steps if st.stored is not LAZY] + [])
    assert tools.calls and set(eager_tools.calls) <= set(tools.calls)
    results = [st for st in s.steps if type(st.value) is m.HistoryEntry and type(st.value.message.content[0]) is m.ToolResultBlock]
    assert results and all("result" in summary(st, tools) and "←" in summary(st, tools) for st in results)
    assert all(tools.name_of(st.value.message.content[0].tool_use_id) for st in results)


def test_values_are_cached_and_bounded(big: Path) -> None:
    s = load_session(big)
    s.source.maxsize = 3
    lazy = [st for st in s.steps if st.stored is LAZY]
    lazy[0].value
    lazy[0].value
    assert s.source.reads == 1  # second use from the cache
    for st in lazy[:6]:
        st.value
    assert len(s.source.cache) <= 3


def test_a_file_changed_under_a_lazy_step_shows_nothing_rather_than_a_lie(big: Path) -> None:
    s = load_session(big)
    st = next(x for x in s.steps if x.stored is LAZY and x.kind == "entry")
    (big / st.name).write_bytes(b'{"event":"user_steered","content":"swapped","ts":"t"}')
    assert st.value is None
