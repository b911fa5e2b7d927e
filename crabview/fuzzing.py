"""Mutations of daemon-written files, shared by the fuzz tests and tests/bench/fuzz.py.

Models what damage really looks like: torn writes (truncation), bit rot
(bit flips), power loss (zero-filled blocks), and hand edits (duplicated
keys, arrays for objects, deep nesting, huge numbers, invalid UTF-8).
"""

from __future__ import annotations

import random
from typing import Any, Callable

from .store import models as m
from .store.decode import StepDecode, decode_fast, decode_step, decode_step_exact, encode

MUTATORS: list[tuple[str, Callable[[bytes, random.Random], bytes]]] = []


def mutator(fn: Callable[[bytes, random.Random], bytes]) -> Callable[[bytes, random.Random], bytes]:
    MUTATORS.append((fn.__name__, fn))
    return fn


@mutator
def truncate(b: bytes, r: random.Random) -> bytes:
    return b[: r.randrange(0, max(1, len(b)))]


@mutator
def bit_flip(b: bytes, r: random.Random) -> bytes:
    if not b:
        return b
    a = bytearray(b)
    for _ in range(r.randint(1, 3)):
        i = r.randrange(len(a))
        a[i] ^= 1 << r.randrange(8)
    return bytes(a)


@mutator
def zero_block(b: bytes, r: random.Random) -> bytes:
    if not b:
        return b"\0" * 16
    i = r.randrange(len(b))
    n = r.randint(1, 64)
    return b[:i] + b"\0" * min(n, len(b) - i) + b[i + n :]


@mutator
def duplicate_key(b: bytes, r: random.Random) -> bytes:
    # repeat the first "key":value pair right after itself
    i = b.find(b'":')
    if i < 0:
        return b + b
    start = b.rfind(b'"', 0, i)
    end = b.find(b",", i)
    if start < 0 or end < 0:
        return b
    return b[:end] + b"," + b[start:end] + b[end:]


@mutator
def as_array(b: bytes, r: random.Random) -> bytes:
    import json

    try:
        v = json.loads(b)
    except (ValueError, RecursionError):
        return b
    if isinstance(v, dict):
        return json.dumps(list(v.values())).encode()
    return b


@mutator
def deep_nest(b: bytes, r: random.Random) -> bytes:
    n = r.choice([126, 127, 128, 129, 500, 5000])
    i = b.find(b'"input":')
    if i >= 0:
        j = i + len(b'"input":')
        # the payload becomes n nested arrays; the old payload moves to an ignored key
        return b[:j] + b"[" * n + b"]" * n + b',"_":' + b[j:]
    return b"[" * n + b + b"]" * n


@mutator
def huge_number(b: bytes, r: random.Random) -> bytes:
    import re

    nums = list(re.finditer(rb"(?<![\w.])\d+(?![\w.])", b))
    choices = [b"4294967296", b"18446744073709551616", b"-1", b"-0", b"12.0", b"1e3", b"1e400", b"9" * 400]
    if not nums:
        return b + b" " + r.choice(choices)
    mm = r.choice(nums)
    return b[: mm.start()] + r.choice(choices) + b[mm.end() :]


# Numbers where serde_json 1.0.149's float arithmetic (not correctly
# rounded) and Python's/msgspec's part: out of range for one and not the
# other, or a different double. Several are msgspec's own shortest
# encoding, so a file can stay canonical and reach the fast path's check.
EDGE_NUMBERS = [
    b"1.7976931348623157e308", b"1.7976931348623158e308", b"179769313486231581e291", b"17976931348623157000e289",
    b"17976931348623157e292", b"1.8e308", b"1e309", b"0e999999999", b"1e-400", b"123456789012345678901234567890",
    b"2.2250738585072014e-308", b"9.385958677423489e-293", b"2.2322111021323867e232", b"5e-324",
    b"2.4703282292062328e-324", b"1e2147483648", b"1e-2147483648", b"0e2147483648", b"-1.7976931348623158e308",
]


@mutator
def float_edge(b: bytes, r: random.Random) -> bytes:
    import re

    n = r.choice(EDGE_NUMBERS)
    nums = list(re.finditer(rb"(?<![\w.])\d+(?![\w.])", b))
    if nums and r.random() < 0.6:
        mm = r.choice(nums)  # a typed field or a payload value
        return b[: mm.start()] + n + b[mm.end() :]
    if b.endswith(b"}"):
        return b[:-1] + b',"x":' + n + b"}"  # under an unknown key
    return b + b" " + n


@mutator
def invalid_utf8(b: bytes, r: random.Random) -> bytes:
    if not b:
        return b"\xff"
    i = r.randrange(len(b))
    return b[:i] + r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]) + b[i:]


@mutator
def splice_bytes(b: bytes, r: random.Random) -> bytes:
    junk = r.choice([b"\xef\xbb\xbf", b"\x00", b"\x0c", b"\xc2\xa0", b" ", b"\n", b'"', b"{", b"]", b",", b"null"])
    i = r.randrange(len(b) + 1)
    return b[:i] + junk + b[i:]


def sample_steps(r: random.Random) -> list[bytes]:
    """A handful of daemon-written steps of every kind."""
    vals: list[Any] = [
        m.HistoryEntry(message=m.Message("user", [m.TextBlock("hello " * r.randint(1, 5))])),
        m.HistoryEntry(
            agent="guest",
            message=m.Message(
                "assistant",
                [m.ThinkingBlock("hmm", "sig"), m.ToolUseBlock("c1", "shell", {"cmd": "ls", "n": r.randint(0, 99), "deep": [[1, {"a": None}]]})],
            ),
        ),
        m.HistoryEntry(message=m.Message("tool", [m.ToolResultBlock("c1", [m.TextBlock("out")], "shell"), m.ImageBlock({"url": "x"})])),
        m.HistoryEntry(message=m.Message("tool", [m.ToolResultBlock("c2", "plain out")])),
        m.ToolStartEvent([m.ToolCall("c1", "shell", '{"cmd":"ls"}')], "2026-11-20T09:00:00Z"),
        m.ToolResultEvent("c1", r.randint(0, 10**6), "2026-11-20T09:00:01Z"),
        m.DoneEvent("m", 2, "end_turn", m.Usage(1, 2, 3, None, 4, None), "2026-11-20T09:00:02Z"),
        m.DoneEvent("m", 1, "end_turn", m.Usage(5, 6, 11, m.CompletionTokensDetails(r.randint(0, 6))), "2026-11-20T09:00:02Z"),
        m.UserSteeredEvent("stop", "2026-11-20T09:00:03Z"),
        m.Compact("crab-user-1-1", "2026-11-20T09:00:04Z"),
        m.LegacyCompact("old summary", "t", ""),
    ]
    return [encode(v) for v in vals]


def check_step_invariants(data: bytes) -> StepDecode:
    """The invariants every decode must keep; raises AssertionError with the input."""
    d = decode_step(data)
    e = decode_step_exact(data)
    assert d.kind in m.KINDS, (data, d)
    assert d.kind == e.kind, (data[:200], d.kind, e.kind, d.error, e.error)
    if d.kind == m.KIND_UNPARSABLE:
        assert d.error, data
        assert d.offset is not None and 0 <= d.offset <= len(data), (data[:200], d.offset)
    else:
        assert d.value is not None
        f = decode_fast(data)
        assert f is None or type(f) is type(d.value)
    return d
