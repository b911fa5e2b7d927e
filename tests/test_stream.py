"""Streamed output, from the outside: `show --json`, `check --json` and
`export` write their first bytes before the last step is rendered, end
quietly when the reader goes away, and write exactly the whole-document
rendering's bytes."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import DaemonWriter, turn
from crabview.render import files as rf
from crabview.render import jsonenc
from crabview.render.html import session_html
from crabview.render.jsonenc import Deferred, StreamList, StreamObject, dumps, iter_dumps
from crabview.render.text import session_json
from crabview.store.store import Store

# A CLI process whose per-step renderer blocks on the session's last step
# until the gate file exists: what reached the pipe before that was written
# while the rest of the document was still to be rendered.
GATED_CLI = r"""
import os, sys, time
gate, last = sys.argv[1], sys.argv[2]
sys.argv = ["crabview", *sys.argv[3:]]
import crabview.render.text as text
import crabview.render.files as files
import crabview.render.html as html

def gated(render, name_of):
    def wrapper(*args, **kwargs):
        if name_of(args) == last:
            deadline = time.monotonic() + 60
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.01)
        return render(*args, **kwargs)
    return wrapper

first = lambda args: args[0].name
text.step_json = files.step_json = gated(text.step_json, first)
text.step_markdown = gated(text.step_markdown, first)
html.step_html = gated(html.step_html, first)
from crabview.cli import run
run()
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crabview", *args]


@pytest.fixture(scope="module")
def long_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A root with one session of ~2,100 steps (output far past a pipe's
    buffer and the writer's chunk); returns (root, slug, last step name)."""
    root = tmp_path_factory.mktemp("long") / "root"
    w = DaemonWriter(root, atomic=False)
    slug = w.create_session("Crab", "stream", "a long one")
    rng = random.Random(3)
    for i in range(0, 2100, 7):
        turn(w, slug, rng, i)
        if i == 1001:
            w.compact(slug, "halfway summary")
    last = sorted(n for n in os.listdir(root / "sessions" / slug) if n.startswith("step-"))[-1]
    return root, slug, last


def _read_some(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1 << 16) if ready else b""


STREAMED = {
    "show --json": lambda root, slug: ["show", "--json", "--root", str(root), slug],
    "show --json --replay": lambda root, slug: ["show", "--json", "--replay", "--root", str(root), slug],
    "check --json": lambda root, slug: ["check", "--json", str(root)],
    "export md": lambda root, slug: ["export", "--format", "md", "--root", str(root), slug],
    "export html": lambda root, slug: ["export", "--format", "html", "--root", str(root), slug],
    "export jsonl --all": lambda root, slug: ["export", "--format", "jsonl", "--all", "--root", str(root), slug],
}


@pytest.mark.parametrize("label", list(STREAMED))
def test_first_bytes_arrive_before_the_last_step_is_rendered(label: str, long_store: tuple[Path, str, str], tmp_path: Path) -> None:
    root, slug, last = long_store
    gate = tmp_path / "gate"
    p = subprocess.Popen(
        [sys.executable, "-c", GATED_CLI, str(gate), last, *STREAMED[label](root, slug)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None
    try:
        first = _read_some(p.stdout.fileno(), 30.0)
        # the renderer is still held on the last step: nothing has ended
        assert first, f"{label}: no output while the last step was still to be rendered"
        assert p.poll() is None
        got = [first]
        gate.touch()
        while chunk := os.read(p.stdout.fileno(), 1 << 16):
            got.append(chunk)
        assert p.wait(60) in (0, 1), p.stderr.read() if p.stderr else b""
    finally:
        gate.touch()
        if p.poll() is None:
            p.kill()
        p.wait()
    body = b"".join(got)
    assert len(body) > len(first)
    # and it is what the command writes without the gate
    plain = subprocess.run(_cli(*STREAMED[label](root, slug)), capture_output=True, timeout=60)
    assert body == plain.stdout


def test_a_closed_stdout_ends_quietly(long_store: tuple[Path, str, str]) -> None:
    root, slug, _ = long_store
    for args in (STREAMED["show --json"](root, slug), STREAMED["export md"](root, slug), STREAMED["check --json"](root, slug)):
        p = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdout is not None and p.stderr is not None
        head = p.stdout.read(100)  # `| head -c 100`
        p.stdout.close()
        err = p.stderr.read()
        assert len(head) == 100
        assert p.wait(60) == 141, err
        assert err == b"", err


def _whole_documents(root: Path) -> dict[tuple[str, ...], bytes]:
    """What each command must write: the whole-document renderings, made in
    this process (the mount serves the same functions' bytes)."""
    store = Store.open(str(root))
    want: dict[tuple[str, ...], bytes] = {}
    for slug in sorted(os.listdir(store.sessions_dir)):
        s = store.load_session(slug)
        d = session_json(s)
        want[("show", "--json", slug)] = (dumps(d, 2) + "\n").encode("utf-8", "backslashreplace")
        keep = set(d["replay_files"])
        d = dict(d, steps=[x for x in d["steps"] if x["file"] in keep], archive_content=s.archive_text)
        want[("show", "--json", "--replay", slug)] = (dumps(d, 2) + "\n").encode("utf-8", "backslashreplace")
        want[("export", "--format", "md", slug)] = rf.transcript_bytes(s)
        want[("export", "--format", "md", "--replay", slug)] = rf.transcript_bytes(s, replay_only=True)
        want[("export", "--format", "html", slug)] = rf.to_bytes(session_html(s))
        want[("export", "--format", "jsonl", "--all", slug)] = rf.steps_jsonl_bytes(s)
        if s.load_status == "ok":
            want[("export", "--format", "jsonl", slug)] = rf.replay_bytes(s)
    return want


def test_streamed_output_is_the_whole_document_byte_for_byte(long_store: tuple[Path, str, str]) -> None:
    """On a pipe, from a process: a long session (the pieces cross many write batches)."""
    root = long_store[0]
    for args, want in _whole_documents(root).items():
        *cmd, slug = args
        got = subprocess.run(_cli(*cmd, "--root", str(root), slug), capture_output=True, timeout=60)
        assert got.returncode == 0, (args, got.stderr)
        assert got.stdout == want, args


def test_streamed_output_is_the_whole_document_on_every_demo_session(demo_store: Path) -> None:
    """In process (click's runner, bytes as written), every demo session:
    compacts, a missing archive, unparsable steps, tmp files."""
    runner = CliRunner()
    docs = _whole_documents(demo_store)
    assert len({args[-1] for args in docs}) >= 5  # the demo's sessions, all of them
    for args, want in docs.items():
        *cmd, slug = args
        got = runner.invoke(main, [*cmd, "--root", str(demo_store), slug])
        assert got.exit_code == 0, (args, got.output)
        assert got.stdout_bytes == want, args


def test_check_json_is_one_document_with_every_session(demo_store: Path) -> None:
    got = subprocess.run(_cli("check", "--json", str(demo_store)), capture_output=True, timeout=60)
    doc = json.loads(got.stdout)
    store = Store.open(str(demo_store))
    assert list(doc) == ["root", "sessions_dir", "memory", "store_problems", "sessions", "problem_count", "severity_counts", "fail_on", "failing"]
    assert sorted(doc["sessions"]) == sorted(os.listdir(store.sessions_dir))
    for slug, d in doc["sessions"].items():
        assert d == json.loads(dumps(session_json(store.load_session(slug))))
    total = len(store.store_problems()) + sum(len(d["problems"]) for d in doc["sessions"].values())
    assert doc["problem_count"] == total
    sevs = [p.severity for p in store.store_problems()] + [p["severity"] for d in doc["sessions"].values() for p in d["problems"]]
    assert doc["severity_counts"] == {sev: sevs.count(sev) for sev in ("error", "warning", "info")}
    failing = sum(1 for sev in sevs if sev in ("error", "warning"))  # the default --fail-on warning
    assert doc["fail_on"] == "warning" and doc["failing"] == failing
    assert got.returncode == (1 if failing else 0)


# --- the encoder: streamed pieces join to dumps() of the same value --------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\x1b\x7f\x85\u202e\u2028\ufeff\n\t\"\\")),
)
_plain = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20)


def _streamable(depth: int = 0) -> st.SearchStrategy[Any]:
    """(plain value, the same value with some containers streamed)."""
    leaf = _plain.map(lambda v: (v, v))
    if depth >= 3:
        return leaf
    inner = st.deferred(lambda: _streamable(depth + 1))
    lists = st.lists(inner, max_size=7).map(lambda xs: ([x[0] for x in xs], StreamList(iter([x[1] for x in xs]))))
    objs = st.dictionaries(st.text(max_size=6), inner, max_size=5).map(
        lambda d: ({k: v[0] for k, v in d.items()}, StreamObject(iter([(k, v[1]) for k, v in d.items()])))
    )
    deferred = leaf.map(lambda pv: (pv[0], Deferred(lambda v=pv[1]: v)))
    return st.one_of(leaf, lists, objs, deferred)


@settings(max_examples=400, deadline=None)
@given(_streamable(), st.sampled_from([None, 2, 4]), st.sampled_from([1, 2, 3, 128]))
def test_iter_dumps_joins_to_dumps(pair: tuple[Any, Any], indent: int | None, batch: int) -> None:
    plain, streamed = pair
    saved = jsonenc.STREAM_BATCH
    jsonenc.STREAM_BATCH = batch  # batches that end inside, at and past a list's end
    try:
        assert "".join(iter_dumps(streamed, indent)) == dumps(plain, indent)
    finally:
        jsonenc.STREAM_BATCH = saved


def test_iter_dumps_renders_a_batch_at_a_time() -> None:
    made: list[int] = []

    def items() -> Any:
        for i in range(1000):
            made.append(i)
            yield {"i": i}

    pieces = iter_dumps(StreamObject(iter([("a", 1), ("steps", StreamList(items()))])), 2)
    text = ""
    for piece in pieces:
        text += piece
        if '"i": 0' in text:
            break
    assert made == list(range(jsonenc.STREAM_BATCH))  # the rest is not rendered yet
    assert text.startswith('{\n  "a": 1,\n  "steps": [\n    {\n      "i": 0\n    },')
    rest = "".join(pieces)
    assert len(made) == 1000
    assert json.loads(text + rest) == {"a": 1, "steps": [{"i": i} for i in range(1000)]}


def test_a_lazy_session_streams_the_same_bytes(long_store: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A session past the lazy threshold keeps no values in memory; the
    streamed renderings read them back a batch ahead (``read_ahead``) and
    must write what the fully loaded session renders."""
    import crabview.store.session as session_mod

    root = long_store[0]
    want = _whole_documents(root)  # loaded whole: every value in memory
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 100)
    s = Store.open(str(root)).load_session(long_store[1])
    lazy = sum(st.stored is session_mod.LAZY for st in s.steps)
    assert lazy > len(s.steps) // 2  # the lazy path is the one taken
    runner = CliRunner()
    for args, doc in want.items():
        *cmd, slug = args
        got = runner.invoke(main, [*cmd, "--root", str(root), slug])
        assert got.exit_code == 0, (args, got.output)
        assert got.stdout_bytes == doc, args
