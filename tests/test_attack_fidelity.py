"""Differential check of the fast path against the exact path (issue 15):
canonical daemon files built from every model, with numbers at every edge
in every position, tool results nesting blocks in blocks, payloads at and
past serde_json's depth limit. Whenever the fast path answers, it must
give the same kind and the same value as the exact path (floats compared
bit for bit); and ``decode_step`` must always agree with the exact path."""

from __future__ import annotations

import math
import struct

from hypothesis import HealthCheck, given, settings, strategies as st

from crabview.store import models as m
from crabview.store.decode import decode_fast, decode_step, decode_step_exact, encode, to_builtins

U32, U64 = (1 << 32) - 1, (1 << 64) - 1
_edge_ints = st.sampled_from([0, 1, U32, U32 + 1, (1 << 63) - 1, 1 << 63, U64, U64 + 1, -1, -(1 << 63), -(1 << 63) - 1, 10**30, -10**30])
_edge_floats = st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
                                -1.7976931348623157e308, 1e308, 1e22, 1e23, 9007199254740993.0, 0.1, 1 / 3, 123456789012345678.0,
                                8.98846567431158e307, 4.4501477170144023e-308])
_floats = _edge_floats | st.floats(allow_nan=False, allow_infinity=False) | st.builds(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0], st.integers(0, (1 << 64) - 1)).filter(math.isfinite)
_ints = _edge_ints | st.integers()
_text = st.text(max_size=8)
_scalar = st.none() | st.booleans() | _ints | _floats | _text


def _deep(depth: int, leaf) -> object:
    v = leaf
    for i in range(depth):
        v = [v] if i % 2 else {"k": v}
    return v


_json = st.recursive(_scalar, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_text, kids, max_size=3), max_leaves=8)
_payload = _json | st.builds(_deep, st.integers(118, 130), _scalar)


def _blocks(depth: int):
    leaf = st.one_of(
        st.builds(m.TextBlock, _text),
        st.builds(m.ThinkingBlock, _text, st.none() | _text),
        st.builds(m.ToolUseBlock, _text, _text, _payload),
        st.builds(m.ImageBlock, _payload),
        st.builds(m.ToolResultBlock, _text, _text, st.none() | _text),
    )
    if depth <= 0:
        return st.lists(leaf, max_size=3)
    inner = _blocks(depth - 1)
    return st.lists(leaf | st.builds(m.ToolResultBlock, _text, inner, st.none() | _text), max_size=3)


_u = st.builds(m.Usage, _ints, _ints, _ints, st.none() | st.builds(m.CompletionTokensDetails, st.none() | _ints), st.none() | _ints, st.none() | _ints)
_values = st.one_of(
    st.builds(lambda a, r, b: m.HistoryEntry(agent=a, message=m.Message(r, b)), _text, _text, _blocks(3)),
    st.builds(m.ToolStartEvent, st.lists(st.builds(m.ToolCall, _text, _text, _text), max_size=2), _text),
    st.builds(m.ToolResultEvent, _text, _ints, _text),
    st.builds(m.DoneEvent, _text, _ints, _text, _u, _text),
    st.builds(m.UserSteeredEvent, _text, _text),
    st.builds(m.Compact, _text, _text),
    st.builds(m.LegacyCompact, _text, _text, _text),
)


def _bits(v):
    """A value with every float replaced by its bit pattern (so -0.0 != 0.0), iteratively."""
    root: list = [None]
    stack = [(v, root, 0)]
    while stack:
        x, parent, key = stack.pop()
        if isinstance(x, float):
            parent[key] = ("f", struct.pack("<d", x))
        elif isinstance(x, dict):
            d: dict = {}
            parent[key] = d
            stack.extend((y, d, k) for k, y in x.items())
        elif isinstance(x, list):
            lst: list = [None] * len(x)
            parent[key] = lst
            stack.extend((y, lst, i) for i, y in enumerate(x))
        else:
            parent[key] = x
    return root[0]


def _nested_tool_results(depth: int) -> bytes:
    """A canonical entry whose tool result holds a tool result ... ``depth`` times."""
    content: object = "leaf"
    for _ in range(depth):
        content = [m.ToolResultBlock("id", content)]
    return encode(m.HistoryEntry(message=m.Message("tool", content)))  # type: ignore[arg-type]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_values)
def test_fast_path_agrees_with_exact_path_on_canonical_files(value) -> None:
    try:
        data = encode(value)
    except (OverflowError, ValueError, TypeError):
        return  # msgspec cannot write it (e.g. an int past its range): no file to judge
    exact = decode_step_exact(data)
    fast = decode_fast(data)
    if fast is not None:
        assert exact.kind != m.KIND_UNPARSABLE, (data[:300], exact.error)
        assert type(fast) is type(exact.value), data[:300]
        assert _bits(to_builtins(fast)) == _bits(to_builtins(exact.value)), data[:300]
    d = decode_step(data)
    assert d.kind == exact.kind, (data[:300], d.kind, exact.kind, exact.error)
    if d.value is not None:
        assert _bits(to_builtins(d.value)) == _bits(to_builtins(exact.value)), data[:300]


def test_tool_results_nested_to_the_depth_limit() -> None:
    """Each nesting adds two levels (content [, block {): both paths stop at the same one."""
    for depth in range(55, 70):
        data = _nested_tool_results(depth)
        assert decode_step(data).kind == decode_step_exact(data).kind, depth


@settings(max_examples=300, deadline=None)
@given(st.builds(m.Meta, _text, _text, _text, _text, _text, _ints, st.none() | _text))
def test_meta_fast_path_agrees_with_exact_path(meta) -> None:
    from crabview.store.decode import decode_meta
    from crabview.store.jsonparse import JsonError, parse
    from crabview.store.serde import match_meta

    try:
        data = encode(meta)
    except (OverflowError, ValueError, TypeError):
        return
    got = decode_meta(data)
    try:
        exact, _ = match_meta(parse(data, strict=False))
    except (JsonError, Exception):  # the exact path's own failures
        exact = None
    assert (got.meta is None) == (exact is None), (data[:200], got.error)
    if exact is not None:
        assert to_builtins(got.meta) == to_builtins(exact), data[:200]
