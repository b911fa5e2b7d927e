"""Short fuzz runs (the long one is tests/bench/fuzz.py): mutations of
daemon-written files through every reader. Invariants: nothing raises, the
verdict is one of the six kinds, fast and exact paths agree, unparsable
steps carry a reason and an in-file offset, replay is consistent."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from hypothesis import given, settings, strategies as st

from crabview.fuzzing import MUTATORS, check_step_invariants, sample_steps
from crabview.store import models as m
from crabview.store.decode import decode_meta, encode
from crabview.store.memory import MemoryError_, encode_memory, parse_memory
from crabview.store.session import load_session

SAMPLES = sample_steps(random.Random(0))
META = encode(m.Meta("Crab", "user", "2026-11-20T09:00:00Z", "t", "u", 3, "s"))
MEMORY = encode_memory([m.MemoryEntry(1, 2, "archive", "crab-user-1-1", "summary", ["alias"])])

mutation_chain = st.lists(st.sampled_from(range(len(MUTATORS))), min_size=1, max_size=3)


def mutate(data: bytes, chain: list[int], seed: int) -> bytes:
    r = random.Random(seed)
    for i in chain:
        data = MUTATORS[i][1](data, r)
    return data


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), mutation_chain, st.integers(0, 2**32))
def test_mutated_steps_keep_every_invariant(sample: bytes, chain: list[int], seed: int) -> None:
    check_step_invariants(mutate(sample, chain, seed))


def test_every_mutator_changes_or_breaks_something() -> None:
    # guard against a silently inert mutator making the fuzzing above hollow
    r = random.Random(1)
    for name, fn in MUTATORS:
        assert any(fn(s, r) != s for s in SAMPLES for _ in range(5)), name


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_keep_every_invariant(data: bytes) -> None:
    check_step_invariants(data)


@settings(max_examples=200, deadline=None)
@given(mutation_chain, st.integers(0, 2**32))
def test_meta_decoder_never_raises(chain: list[int], seed: int) -> None:
    d = decode_meta(mutate(META, chain, seed))
    assert (d.meta is None) == (d.error is not None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(MEMORY) - 1), st.integers(0, 255)), max_size=4), st.integers(0, len(MEMORY)))
def test_memory_reader_fails_only_with_its_own_error(flips: list[tuple[int, int]], cut: int) -> None:
    b = bytearray(MEMORY)
    for i, v in flips:
        b[i] = v
    try:
        parse_memory(bytes(b[:cut]))
    except MemoryError_ as e:
        assert str(e)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SAMPLES), mutation_chain, st.booleans()), min_size=1, max_size=10), st.integers(0, 2**32))
def test_whole_session_loads_are_consistent(tmp_path_factory, files, seed: int) -> None:
    d: Path = tmp_path_factory.mktemp("s")
    (d / "meta").write_bytes(META)
    for k, (sample, chain, damage) in enumerate(files):
        (d / f"step-{k + 1:06d}").write_bytes(mutate(sample, chain, seed + k) if damage else sample)
    s = load_session(d)
    shutil.rmtree(d)  # one folder per example: don't leave them all behind
    assert len(s.steps) == len(files)
    for i in s.replay_indices:
        assert s.steps[i].kind == m.KIND_ENTRY and i >= s.replay_start
    if s.boundary is not None:
        assert s.steps[s.boundary.index].is_boundary
        assert not any(x.is_boundary for x in s.steps[s.boundary.index + 1 :])
    assert sum(p.code == "unparsable_step" for p in s.problems) == s.kind_counts()["unparsable"]
