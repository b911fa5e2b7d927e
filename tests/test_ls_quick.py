"""`ls --quick` reads meta and names only, and finds every pair's latest session in one scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crabview.demo import DaemonWriter, build_demo
from crabview.store.layout import find_latest_session, parse_slug
from crabview.store.store import Store, latest_sessions

REPO = Path(__file__).resolve().parents[1]

# Agent and sender parts as they appear in directory names, odd ones too:
# sender_slug lowercases ASCII (so `Crab_user_1` belongs to `crab_user_`),
# and seqs parse the Rust way (`+3`, `03`, past u32).
PARTS = st.sampled_from(["crab", "Crab", "user", "tg-1", "b"])
SEQS = st.sampled_from(["1", "2", "3", "03", "+3", "10", "4294967295", "4294967296", "x", ""])
KINDS = st.sampled_from(["dir", "dir", "dir", "file", "symlink"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(PARTS, PARTS, SEQS, KINDS), max_size=25))
def test_one_scan_finds_what_the_daemons_lookup_finds(tmp_path_factory: pytest.TempPathFactory, entries) -> None:
    sessions = tmp_path_factory.mktemp("r") / "sessions"
    sessions.mkdir()
    (sessions / "target").mkdir()
    for agent, sender, seq, kind in entries:
        p = sessions / f"{agent}_{sender}_{seq}"
        if p.exists() or p.is_symlink():
            continue
        if kind == "dir":
            p.mkdir()
        elif kind == "file":
            p.write_bytes(b"")
        else:
            p.symlink_to("target")
    got = latest_sessions(sessions)
    for agent in ["crab", "Crab", "user", "tg-1", "b"]:
        for sender in ["crab", "Crab", "user", "tg-1", "b"]:
            want = find_latest_session(sessions, agent, sender)
            prefix = f"{agent.lower()}_{sender.lower()}_"
            assert got.get(prefix) == want, (agent, sender)
    # and the listing's own scan agrees, row by row
    store = Store.open(sessions)
    for sm in store.summaries():
        ps = parse_slug(sm.slug)
        want = ps is not None and find_latest_session(sessions, ps.agent, ps.sender) == sm.slug
        assert sm.latest == want, sm.slug


def test_quick_listing_matches_the_full_listing_where_they_overlap(tmp_path: Path) -> None:
    root = build_demo(tmp_path / "demo")
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def ls(*args: str) -> list[dict]:
        r = subprocess.run([sys.executable, "-m", "crabview", "ls", "--json", *args, str(root)], capture_output=True, env=env)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    quick, full = ls("--quick"), ls()
    assert [r["slug"] for r in quick] == [r["slug"] for r in full]
    for q, f in zip(quick, full):
        for key in ("listed", "agent", "sender", "seq", "title", "meta_status", "steps", "updated", "message_count", "latest"):
            assert q[key] == f[key], (q["slug"], key)
    assert any(r["latest"] for r in quick) and not all(r["latest"] for r in quick)


OPENS = textwrap.dedent(
    """
    import sys
    opened = []
    def hook(event, args):
        if event == "open":
            opened.append(str(args[0]))
        elif event == "os.listdir" or event == "os.scandir":
            opened.append("LIST " + str(args[0]))
    sys.addaudithook(hook)
    from crabview.cli import run
    sys.argv = ["crabview", "ls", "--quick", sys.argv[1]]
    try:
        run()
    except SystemExit:
        pass
    sys.stderr.write("\\n".join(["OPENED"] + opened) + "\\n")
    """
)


def test_quick_listing_reads_no_step_and_no_memory_db(writer: DaemonWriter, tmp_path: Path) -> None:
    slug = writer.create_session("Crab", "user", "a title")
    writer.append_raw(slug, b'{"message":{"role":"user","content":[]}}')
    writer.compact(slug, "a summary")  # memory.db exists
    assert (writer.root / "memory.db").exists()
    r = subprocess.run(
        [sys.executable, "-c", OPENS, str(writer.root)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert r.returncode == 0, r.stderr
    assert slug in r.stdout and "a title" in r.stdout
    opened = r.stderr.split("OPENED\n", 1)[1].splitlines()
    store_opens = [p for p in opened if str(writer.root) in p and not p.startswith("LIST ")]
    assert store_opens == [str(writer.sessions_dir / slug / "meta")]
    # the session directory is listed exactly once
    assert [p for p in opened if p == f"LIST {writer.sessions_dir / slug}"] == [f"LIST {writer.sessions_dir / slug}"]
