"""Property tests (hypothesis) for the step decoder.

- it never raises, on arbitrary bytes or on damaged daemon-written steps;
- the fast (msgspec) and exact (serde-rule) paths always agree on the kind;
- random valid steps, built as model objects and encoded the way the daemon
  writes them, decode back to an equal value through both paths.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabview.store import models as m
from crabview.store.decode import decode_step, decode_step_exact, encode
from crabview.store.numbers import OutOfRange, parse_number

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
text = st.text(max_size=30)



def serde_reads_as_written(x: float) -> bool:
    """serde_json's (not correctly rounded) reading of the float's text gives it back."""
    try:
        return parse_number(encode(x)) == x
    except OutOfRange:
        return False


# Free-form JSON. Integers stay within i64/u64 (serde_json turns larger ones
# into floats, which would not compare equal to the Python int) and floats
# are finite and read back as written by serde_json (the others are
# tests/test_fidelity_edges.py's business).
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(serde_reads_as_written)
    | text
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)

blocks = st.deferred(
    lambda: st.one_of(
        st.builds(m.TextBlock, text),
        st.builds(m.ThinkingBlock, text, st.none() | text),
        st.builds(m.ToolUseBlock, text, text, json_value),
        # content: a string or a list of blocks (which may hold tool results again)
        st.builds(m.ToolResultBlock, text, text | st.lists(blocks, max_size=3), st.none() | text),
        st.builds(m.ImageBlock, json_value),
    )
)
messages = st.builds(m.Message, st.sampled_from(["system", "user", "assistant", "tool"]) | text, st.lists(blocks, max_size=4))
entries = st.builds(m.HistoryEntry, agent=text, message=messages)
usages = st.builds(
    m.Usage, U32, U32, U32, st.none() | st.builds(m.CompletionTokensDetails, st.none() | U32), st.none() | U32, st.none() | U32
)
events = st.one_of(
    st.builds(m.ToolStartEvent, st.lists(st.builds(m.ToolCall, text, text, text), max_size=3), text),
    st.builds(m.ToolResultEvent, text, U64, text),
    st.builds(m.DoneEvent, text, U64, text, usages, text),
    st.builds(m.UserSteeredEvent, text, text),
)
compacts = st.builds(m.Compact, text, text) | st.builds(m.LegacyCompact, text, text, text)
steps = st.one_of(entries, events, compacts)


def both(data: bytes):
    fast = decode_step(data)
    exact = decode_step_exact(data)
    assert fast.kind == exact.kind, (data, fast, exact)
    if fast.kind == "unparsable":
        assert fast.error and exact.error
        assert 0 <= fast.offset <= len(data) and 0 <= exact.offset <= len(data)
    else:
        assert fast.value == exact.value
    return fast, exact


@SETTINGS
@given(steps)
def test_valid_steps_round_trip_through_both_paths(value) -> None:
    data = encode(value)
    fast, exact = both(data)
    assert fast.kind == m.kind_of(value)
    assert fast.value == value
    assert exact.value == value
    assert encode(fast.value) == data


@SETTINGS
@given(steps, st.sampled_from([" ", "\n", "\t", "\r\n"]))
def test_pretty_printed_valid_steps_decode_to_the_same_value(value, ws) -> None:
    # the same JSON with whitespace between tokens (json.dumps re-serialises)
    data = json.dumps(json.loads(encode(value)), indent=ws if ws != " " else 1, ensure_ascii=False).encode()
    fast, _ = both(data)
    assert fast.kind == m.kind_of(value)
    assert fast.value == value


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    both(data)


@SETTINGS
@given(st.text(alphabet='{}[]",:0123456789.eE-+ tnrulfase\\"u', max_size=80))
def test_json_like_noise_never_raises(s: str) -> None:
    both(s.encode())


@st.composite
def damaged(draw):
    data = bytearray(encode(draw(steps)))
    how = draw(st.sampled_from(["truncate", "flip", "zero", "insert", "delete"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if how == "zero":  # a zero-filled block, as after a crash on some filesystems
        i = draw(st.integers(0, len(data) - 1))
        k = draw(st.integers(1, 64))
        data[i : i + k] = b"\0" * len(data[i : i + k])
        return bytes(data)
    if how == "insert":
        i = draw(st.integers(0, len(data)))
        return bytes(data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:])
    i = draw(st.integers(0, len(data) - 1))
    return bytes(data[:i] + data[i + draw(st.integers(1, 8)) :])


@SETTINGS
@given(damaged())
def test_damaged_daemon_steps_never_raise_and_paths_agree(data: bytes) -> None:
    both(data)


@SETTINGS
@given(steps, st.integers(0, 10_000))
def test_every_strict_prefix_of_a_step_is_unparsable(value, cut) -> None:
    data = encode(value)
    cut = cut % len(data)  # strictly shorter: a torn write
    # a prefix of a JSON object/array is never a complete JSON document
    assert both(data[:cut])[0].kind == "unparsable"


@SETTINGS
@given(st.lists(st.sampled_from(["[", "{\"a\":"]), min_size=120, max_size=140))
def test_deep_nesting_never_raises(opens) -> None:
    closes = "".join("]" if o == "[" else "}" for o in reversed(opens))
    inner = "".join(opens) + "1" + closes
    data = ('{"message":{"role":"u","content":[{"type":"tool_use","id":"i","name":"n","input":' + inner + "}]}}").encode()
    fast, _ = both(data)
    assert fast.kind == ("entry" if len(opens) + 4 <= 127 else "unparsable")
