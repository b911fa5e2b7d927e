"""`ls --quick` writes exactly what a straightforward listing writes (tests/support/ls_reference.py), on odd and hostile stores.

The command's listing takes shortcuts for speed (one scan of sessions/,
plain-ASCII columns sized without looking up cell widths, one pass of
escaping over the whole text); these tests compare its bytes in a pipe, on a
terminal and as --json to the slow obvious computation, and check that it
imports only what a listing needs.
"""

from __future__ import annotations

import json
import os
import pty
import select
import string
import subprocess
import sys
import tty
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabview.cli import main
from crabview.demo import DaemonWriter
from crabview.store.decode import encode
from crabview.store import models as m
from support.attack import build_attack_store
from support.hostile import build_hostile_store
from support.ls_reference import ls_quick_bytes
from support.odd_listing import build_odd_listing_store

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("ls-ref")
    return {
        "odd": build_odd_listing_store(base / "odd"),
        "hostile": build_hostile_store(base / "hostile", huge=False).root,
        "attack": build_attack_store(base / "attack").root,
    }


def run_ls(*args: str) -> bytes:
    r = subprocess.run([sys.executable, "-m", "crabview", "ls", "--quick", *args], capture_output=True, env=ENV, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    return r.stdout


def run_ls_on_a_terminal(*args: str) -> bytes:
    """stdout on a raw pty (no newline translation), stderr a pipe."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    p = subprocess.Popen([sys.executable, "-m", "crabview", "ls", "--quick", *args], stdout=slave, stderr=subprocess.PIPE, env=ENV)
    os.close(slave)
    got = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, "no output from ls on a terminal"
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    assert p.wait(60) == 0, p.stderr.read()
    return bytes(got)


@pytest.mark.parametrize("name", ["odd", "hostile", "attack"])
def test_plain_and_json_bytes_are_the_references(stores: dict[str, Path], name: str) -> None:
    root = stores[name]
    want = ls_quick_bytes(root)
    assert run_ls(str(root)) == want
    assert want.count(b"\n") >= 5  # the store was listed (a header and rows), not refused
    want_json = ls_quick_bytes(root, as_json=True)
    assert run_ls("--json", str(root)) == want_json
    assert len(json.loads(want_json)) == want.count(b"\n") - 1


def test_a_terminal_gets_the_references_cut_columns(stores: dict[str, Path]) -> None:
    root = stores["odd"]
    want = ls_quick_bytes(root, tty=True)
    assert want != ls_quick_bytes(root)  # long and wide slugs and titles are cut on a terminal
    assert run_ls_on_a_terminal(str(root)) == want


def test_one_session_and_an_empty_store(stores: dict[str, Path], tmp_path: Path) -> None:
    sessions = stores["odd"] / "sessions"
    for slug in ["m_fifo_1", "crab_link_9", "宽_字_1", os.fsdecode(b"crab_\xff\xfe_1"), "m_missing_1"]:
        target = str(sessions / slug)
        assert run_ls(target) == ls_quick_bytes(target), slug
        assert run_ls("--json", target) == ls_quick_bytes(target, as_json=True), slug
    (tmp_path / "sessions").mkdir()
    assert run_ls(str(tmp_path)) == ls_quick_bytes(tmp_path) == f"no sessions under {tmp_path / 'sessions'}\n".encode()


# Names and metas drawn from what makes a listing go wrong: separators,
# case, signs and zeros in seqs, wide, invisible and control characters,
# bytes that are not UTF-8.
NAME_CHARS = st.sampled_from(list("ab_AB1+0-") + ["宽", "\u200b", "\x1b", "\u202e", "é", "\t", "🦀", "\udcff"])
TEXT = st.text(st.sampled_from(list(string.ascii_letters[:6]) + ["T", " ", "宽", "\x1b", "\n", "\u0301", "\x9b", "🦀", "\u200d"]), max_size=40)
META = st.one_of(
    st.builds(lambda t, u, n: encode(m.Meta(agent="a", created_by="b", created_at="c", title=t, updated_at=u, message_count=n)),
              TEXT, TEXT, st.integers(0, (1 << 64) - 1)),
    st.sampled_from([None, b"", b"{", b'{"agent":"a", "created_by":"b","created_at":"c"}', b"\xff"]),
)
SESSION = st.tuples(st.text(NAME_CHARS, min_size=1, max_size=8), META, st.integers(0, 3), st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sessions=st.lists(SESSION, max_size=12), as_json=st.booleans())
def test_any_store_lists_as_the_reference_does(tmp_path_factory: pytest.TempPathFactory, sessions, as_json: bool) -> None:
    root = tmp_path_factory.mktemp("r")
    sd = root / "sessions"
    sd.mkdir()
    made: list[str] = []
    for name, meta, steps, link in sessions:
        p = sd / name
        if p.exists() or p.is_symlink():
            continue
        if link and made:
            p.symlink_to(sd / made[-1])
            continue
        p.mkdir()
        made.append(name)
        if meta is not None:
            (p / "meta").write_bytes(meta)
        for i in range(steps):
            (p / (f"step-{i:06d}" + (".tmp.1.x" if i == 2 else ""))).write_bytes(b"{}")
    args = ["ls", "--quick", *(["--json"] if as_json else []), str(root)]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.stdout_bytes == ls_quick_bytes(root, as_json=as_json)


# What `ls --quick` has no use for: the TUI, the step loader and its child
# reader (and its subprocess), memory.db and the problem rules, the careful
# JSON decoder (a canonical meta needs none of it), SQL, the demo's tempfile.
NOT_FOR_A_LISTING = ["textual", "duckdb", "crabview.tui", "crabview.store.session", "crabview.store.childread",
                     "crabview.store.memory", "crabview.store.problems", "crabview.store.decode", "crabview.store.jsonparse",
                     "crabview.store.serde", "subprocess", "tempfile", "rich"]

MODULES_AFTER_LS = """
import sys
from crabview.cli import run
sys.argv = ["crabview", "ls", "--quick", *sys.argv[1:]]
try:
    run()
except SystemExit:
    pass
sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n")
"""


@pytest.fixture(scope="module")
def plain_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sessions as the daemon writes them (ASCII names, canonical metas), with steps and a memory.db."""
    w = DaemonWriter(tmp_path_factory.mktemp("plain") / "root")
    for k in range(12):
        slug = w.create_session(f"agent{k % 4}", f"user{k % 4}", f"session {k}")
        w.append_raw(slug, b'{"message":{"role":"user","content":[]}}')
    w.compact(slug, "a summary")
    return w.root


@pytest.mark.parametrize("as_json", [False, True])
def test_ls_quick_imports_only_what_it_needs(plain_store: Path, as_json: bool) -> None:
    args = ["--json"] if as_json else []
    r = subprocess.run([sys.executable, "-c", MODULES_AFTER_LS, *args, str(plain_store)], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert "agent3_user3_1" in r.stdout  # it did list
    modules = set(r.stderr.split("MODULES ", 1)[1].split())
    unwanted = NOT_FOR_A_LISTING + ([] if as_json else ["json", "crabview.render.jsonenc"])
    loaded = sorted(name for name in modules if any(name == x or name.startswith(x + ".") for x in unwanted))
    assert loaded == []
    assert "crabview.store.store" in modules and ("crabview.render.jsonenc" in modules) == as_json


def test_quick_and_full_listings_give_every_session_the_loaders_meta_status(stores: dict[str, Path]) -> None:
    """ls --quick reads only metas and names, yet says what a load says (a dangling meta link is missing in both)."""
    import json

    from crabview.store.store import Store

    for name, root in stores.items():
        out = subprocess.run([sys.executable, "-m", "crabview", "ls", "--quick", "--json", str(root)], capture_output=True, check=True, env=ENV)
        quick = {r["slug"]: r["meta_status"] for r in json.loads(out.stdout)}
        store = Store.open(root)
        loaded = {s.slug: s.meta_status for s in store.iter_sessions()}
        assert loaded == quick, name
