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


class StressWriter:
    """A daemon-like writer under fire, for the live stress runs.

    Writes entries round-robin into ``sessions`` sessions at ``rate`` steps
    per second (tmp + rename), and injects what a misbehaving deployment
    does: crashes that leave partial tmp files, meta rewritten, memory.db
    rewritten by compactions, whole sessions deleted and recreated under
    the same slug. ``written`` records every final step name per slug, in
    order, with the time of its rename (CLOCK_MONOTONIC).
    """

    def __init__(self, root: Any, sessions: int = 20, rate: float = 200.0, seed: int = 1):
        import threading

        from .demo import DaemonWriter

        self.w = DaemonWriter(root)
        self.r = random.Random(seed)
        self.rate = rate
        self.slugs = [self.w.create_session(f"agent{i % 4}", f"user{i}") for i in range(sessions)]
        self.written: dict[str, list[tuple[str, float]]] = {s: [] for s in self.slugs}
        self.counts = {"steps": 0, "crashes": 0, "meta_rewrites": 0, "compactions": 0, "recreated": 0}
        self.doomed: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self, seconds: float) -> None:
        import shutil
        import time as _t

        w, r = self.w, self.r
        start = _t.monotonic()
        next_t = start
        i = 0
        while not self.stop.is_set() and _t.monotonic() - start < seconds:
            slug = self.slugs[i % len(self.slugs)]
            i += 1
            now = _t.monotonic()
            due = self.doomed.get(slug)
            if due is not None:
                if now >= due:
                    # delete and recreate under the same slug; the writer's
                    # counter restarts like the daemon's would
                    shutil.rmtree(w.sessions_dir / slug)
                    (w.sessions_dir / slug).mkdir()
                    w._counters.pop(slug, None)
                    w.write_meta(slug, m.Meta(agent="x", created_by="y", created_at=w.tick(0)))
                    self.written[slug].append(("--recreated--", _t.monotonic()))
                    del self.doomed[slug]
                    self.counts["recreated"] += 1
                continue  # no writes to a session about to be deleted
            roll = r.random()
            if roll < 0.01:
                w.leave_tmp(slug, encode(m.HistoryEntry(message=m.Message("user", [m.TextBlock("torn")]))))
                self.counts["crashes"] += 1
            elif roll < 0.015:
                name = w.add_archive(slug, f"summary {i}")
                p = w.append(slug, m.Compact(archive_name=name, archived_at=w.tick(0)))
                self.written[slug].append((p.name, _t.monotonic()))
                self.counts["compactions"] += 1
                self.counts["steps"] += 1
            elif roll < 0.017 and len(self.doomed) < 2:
                self.doomed[slug] = now + 0.5  # stop writing, delete in half a second
            else:
                p = w.append(slug, m.HistoryEntry(message=m.Message("assistant", [m.TextBlock(f"step {i}")])))
                self.written[slug].append((p.name, _t.monotonic()))
                self.counts["steps"] += 1
            if roll > 0.8:
                w.touch_meta(slug, message_count=i) if slug in w._metas else None
                self.counts["meta_rewrites"] += 1
            next_t += 1.0 / self.rate
            delay = next_t - _t.monotonic()
            if delay > 0:
                _t.sleep(delay)


def compare_stream(written: dict[str, list[tuple[str, float]]], got: dict[str, list[tuple[str, float]]]) -> dict[str, Any]:
    """Lost / duplicated / reordered steps and latencies of a followed stream.

    ``got`` maps slug -> [(file, time seen)] for every line a follower
    printed (tmp leftovers are ignored). A recreated session restarts its
    names at step-000001, so lines are matched to generations greedily, in
    order: a line belongs to the current generation while that generation
    still expects its name, else to the next one that does.
    """
    lost = dup = reordered = 0
    lat: list[float] = []
    for slug, seq in written.items():
        gens: list[dict[str, float]] = [{}]
        for name, t in seq:
            if name == "--recreated--":
                gens.append({})
            else:
                gens[-1][name] = t
        seen = [(f, t) for f, t in got.get(slug, []) if ".tmp." not in f]
        g = 0
        matched: list[set[str]] = [set() for _ in gens]
        last: list[str | None] = [None for _ in gens]
        for f, t in seen:
            k = g
            while k < len(gens) and (f not in gens[k] or f in matched[k]):
                k += 1
            if k == len(gens):
                dup += 1
                continue
            g = k
            matched[k].add(f)
            if last[k] is not None and f < last[k]:
                reordered += 1
            last[k] = f
            lat.append((t - gens[k][f]) * 1e3)
        lost += sum(len(gen) - len(mt) for gen, mt in zip(gens, matched))
    return {"lost": lost, "duplicated": dup, "reordered": reordered, "latencies_ms": lat}
