"""`export --format otlp` is written as its spans are made: the request
document comes out in pieces, one turn's spans at a time, with memory that
does not grow with the session; the pieces make the document a receiver
parses (opentelemetry-proto), and the content attributes are the one
encoder's inert JSON."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest

from support.fast_writer import FastWriter
from test_otlp import attrs, cli, parse_otlp

from crabview.data.otlp import iter_otlp, otlp_bytes
from crabview.demo import turn
from crabview.store import models as m
from crabview.store.store import Store


@pytest.fixture(scope="module")
def long_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("otlp-stream") / "store"
    rng = random.Random(5)
    with FastWriter(root) as w:
        slug = w.create_session("Crab", "otlp", "a long session")
        for i in range(600):
            turn(w, slug, rng, i)
            if i % 50 == 49:
                w.compact(slug, f"summary {i}")
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("evil \x1b[31m\u202e text\x85")])))
    return root, slug


def test_the_pieces_are_one_request_a_receiver_parses(long_session) -> None:
    root, slug = long_session
    code, out, err = cli("export", slug, "--root", str(root), "--format", "otlp", "--with-content")
    assert code == 0, err
    assert out.isascii() and out.endswith(b"\n") and out.count(b"\n") == 1
    req = parse_otlp(out)
    spans = [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert len([sp for sp in spans if sp.name.startswith("invoke_agent")]) == 601  # 600 turns + the unfinished tail
    s = Store.open(root).load_session(slug)
    assert out == otlp_bytes(Store.open(root), [s], with_content=True)
    tail = next(sp for sp in spans if sp.name.startswith("invoke_agent") and not attrs(sp.attributes)["crabview.turn.finished"])
    inputs = attrs(tail.attributes)["gen_ai.input.messages"]
    # inert JSON inside the attribute: the controls are escapes, and it decodes to the text
    assert "\x1b" not in inputs and "\u202e" not in inputs and "\x85" not in inputs
    assert json.loads(inputs)[-1]["parts"][0]["content"] == "evil \x1b[31m\u202e text\x85"


def _peak_and_size(store: Store, slug: str) -> tuple[int, int]:
    s = store.load_session(slug)
    size = 0
    tracemalloc.start()
    try:
        for piece in iter_otlp(store, [s], with_content=True):
            size += len(piece)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size


def test_memory_does_not_grow_with_the_session(long_session) -> None:
    """Encoding the request holds a turn's spans and a batch of their JSON,
    never the document: a session six times as long, a document six times
    as big, and the same peak."""
    root, slug = long_session
    with FastWriter(root) as w:
        short = w.create_session("Crab", "otlp", "a short session")
        rng = random.Random(5)
        for i in range(100):
            turn(w, short, rng, i)
    store = Store.open(root)
    _peak_and_size(store, short)  # once first: what is made once per process is not the session's
    peak_short, size_short = _peak_and_size(store, short)
    peak_long, size_long = _peak_and_size(store, slug)
    assert size_long > 5 * size_short
    assert peak_long < 1.5 * peak_short, (peak_short, peak_long, size_short, size_long)
