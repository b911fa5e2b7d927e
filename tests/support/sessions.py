"""Sessions mixing every way a step entry can be, for properties over loaders.

``KINDS`` draws a step file's content (or "dir"/"fifo" for entries only the
careful path reads); ``build`` writes a session of them; ``everything`` is
what two loads must agree on.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import encode


def tool_use(call_id: str) -> bytes:
    msg = m.Message("assistant", [m.ToolUseBlock(call_id, "shell", {"cmd": f"echo {call_id}"})])
    return encode(m.HistoryEntry(message=msg))


def tool_start(call_id: str) -> bytes:
    return encode(m.ToolStartEvent([m.ToolCall(call_id, "search", f'{{"q": "{call_id}"}}')], "2026-11-20T09:00:00Z"))


def done(n: int) -> bytes:
    return encode(m.DoneEvent("m", n, "stop", m.Usage(n, 2, n + 2), "2026-11-20T09:00:01Z"))


def text(s: str) -> bytes:
    return encode(m.HistoryEntry(message=m.Message("user", [m.TextBlock(s)])))


# Every way a step entry can be: canonical kinds, lenient, unparsable, and
# the ones only the careful path reads (empty, a first read's worth, a
# directory, a FIFO).
KINDS = st.one_of(
    st.builds(text, st.text(max_size=20)),
    st.builds(tool_use, st.sampled_from(["c1", "c2", "c3"])),
    st.builds(tool_start, st.sampled_from(["c1", "c2", "c3"])),
    st.builds(done, st.integers(0, 100)),
    st.just(b'{"archive_name":"crab-user-1-1","archived_at":"2026-11-20T09:00:00Z"}'),
    st.just(b'{"compact":"old summary"}'),
    st.just(b'["tool_result", "c1", 12, "ts"]'),  # lenient: array form
    st.just(b' {"message":{"role":"user","content":[]}} '),  # lenient: whitespace
    st.just(b'{"message": torn'),
    st.just(b"\xff\xfe"),
    st.just(b""),
    st.just(b'{"message":{"role":"user","content":[{"type":"text","text":"' + b"x" * 70_000 + b'"}]}}'),
    st.just("dir"),
    st.just("fifo"),
)


def build(root: Path, contents: list, names_tmp: list[bool]) -> Path:
    w = DaemonWriter(root, atomic=False)
    slug = w.create_session("Crab", "user")
    d = w.sessions_dir / slug
    for i, (data, tmp) in enumerate(zip(contents, names_tmp), start=1):
        name = f"step-{i:06d}" + (".tmp.1.2" if tmp else "")
        p = d / name
        if data == "dir":
            p.mkdir()
        elif data == "fifo":
            os.mkfifo(p)
        else:
            p.write_bytes(data)
    (d / "notes.txt").write_bytes(b"not a step")
    return d


def everything(s) -> tuple:
    steps = [(x.name, x.kind, x.error, x.offset, x.size, x.notes, x.variants, x.stored) for x in s.steps]
    calls = list(s.source.tool_calls.items()) if s.source is not None else None
    return (steps, calls, s.boundary, s.other_names, list(s.problems), s.load_status)
