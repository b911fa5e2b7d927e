"""Fixes from a new user's first hour (each reproduces the report)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import DaemonWriter
from crabview.render.text import session_markdown
from crabview.store import models as m
from crabview.store.memory import load_memory
from crabview.store.session import load_session


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crabview", *args], capture_output=True, text=True, timeout=60, env=env)


def test_tail_takes_a_slug_under_root(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("one"))
    writer.append(slug, entry("two"))
    r = cli("tail", slug, "--root", str(writer.root), "-n", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [r.stdout.splitlines()[0]] and "step-000002" in r.stdout and slug not in r.stdout
    r = cli("tail", slug, "-n", "5", env={**os.environ, "CRABTALK_HOME": str(writer.root)})
    assert r.returncode == 0 and "step-000001" in r.stdout


def test_tail_rejects_negative_counts(writer: DaemonWriter) -> None:
    r = cli("tail", str(writer.root), "-n", "-3")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_show_on_a_file_says_so(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    p = writer.append(slug, entry("x"))
    r = cli("show", str(p))
    assert r.returncode == 2 and "not a session directory" in r.stderr


def test_a_directory_that_is_no_store_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "code" / ".git").mkdir(parents=True)
    for d in (empty, tmp_path / "code"):
        r = cli("check", str(d))
        assert r.returncode == 2 and "not a crabtalk store" in r.stderr, r.stderr
    # an empty sessions/ of a fresh root is a (clean) store
    (tmp_path / "fresh" / "sessions").mkdir(parents=True)
    assert cli("check", str(tmp_path / "fresh")).returncode == 0


def test_latest_warns_when_the_daemon_would_find_no_meta(writer: DaemonWriter) -> None:
    (writer.sessions_dir / "crab_ops_1").mkdir()
    r = cli("latest", "crab", "ops", "--root", str(writer.root))
    assert r.returncode == 0 and r.stdout.strip() == "crab_ops_1"
    assert "no meta" in r.stderr


def test_piped_output_is_not_cut(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "a-very-long-sender-name-that-goes-on-and-on-and-on")
    writer.append_raw(slug, b'{"message": "' + b"x" * 300)
    r = CliRunner().invoke(main, ["check", str(writer.root)])
    assert slug in r.output and "…" not in r.output
    r = CliRunner().invoke(main, ["ls", str(writer.root)])
    assert slug in r.output


def test_markdown_never_carries_raw_html_or_altered_fences(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    hostile = "<script>alert(1)</script> </details> <!-- hide --> ```fence``` & co"
    writer.append(slug, entry(hostile))
    writer.append(slug, m.HistoryEntry(message=m.Message("tool", [m.ToolResultBlock("c1", "```\nout\n````", None)])))
    md = session_markdown(load_session(writer.sessions_dir / slug))
    assert "<script>" not in md and "</details> <!--" not in md
    assert "&lt;script&gt;" in md or "&lt;script>" in md
    assert "```fence``` &amp; co" in md  # text itself untouched apart from HTML escaping
    assert "`````\n```\nout\n````\n`````" in md  # the fence is longer than any run inside
    assert "\u200b" not in md


def test_step_order_names_the_pair_that_loads_out_of_order(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    d = writer.sessions_dir / slug
    for name in ("step-000001", "step-999999", "step-1000000"):
        (d / name).write_bytes(m.__name__ and b'{"message":{"role":"user","content":[]}}')
    p = [x for x in load_session(d).problems if x.code == "step_order"]
    assert len(p) == 1 and "step-1000000 (step 1000000) loads before step-999999" in p[0].reason


def test_non_utf8_step_names_are_reported(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    d = os.fsencode(writer.sessions_dir / slug)
    os.close(os.open(d + b"/step-00000\xff", os.O_CREAT | os.O_WRONLY))
    p = [x for x in load_session(writer.sessions_dir / slug).problems if x.code == "skipped_name"]
    assert len(p) == 1 and "\\xff" in p[0].file


def test_missing_archive_wording_and_severity(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, m.Compact("gone-1", "t"))
    writer.append(slug, entry("x"))
    writer.append(slug, m.Compact("gone-2", "t"))
    (writer.root / "memory.db").write_bytes(b"garbage")
    s = load_session(writer.sessions_dir / slug, load_memory(writer.root / "memory.db"))
    p = {x.file: x for x in s.problems if x.code == "archive_missing"}
    assert p["step-000001"].severity == "warning" and "earlier boundary" in p["step-000001"].reason
    assert p["step-000003"].severity == "error" and "memory.db is unreadable" in p["step-000003"].reason
    assert "cannot be found" in p["step-000003"].reason


def test_salvage_keeps_the_text_a_torn_write_cut_off() -> None:
    from crabview.store.decode import salvage

    torn = b'{"message":{"role":"assistant","content":[{"type":"text","text":"Let me pull the per-mo'
    sv = salvage(torn)
    assert not sv.json_complete
    assert sv.json == {"message": {"role": "assistant", "content": [{"type": "text", "text": "Let me pull the per-mo"}]}}
    assert salvage(b'["a", "bc').json == ["a", "bc"]
