"""The CLI's script-facing contract (issue 2, item 4), in-process through
click's CliRunner and out-of-process through ``python -m crabview``.

Expected verdicts on the demo store come from what ``build_demo`` writes
(see crabview/demo.py) read through FORMAT.md, e.g. a meta whose
``created_at`` is null is corrupt, a session without meta loads as none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import DaemonWriter, build_demo
from crabview.store import models as m

REPO = Path(__file__).resolve().parents[1]
SHOW_FIELDS = {"slug", "meta_status", "meta", "load", "steps", "replay_files", "archive", "archive_found", "next_step", "problems"}
STEP_FIELDS = {"file", "number", "kind", "error", "offset"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("cli") / "demo")


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory) -> Path:
    w = DaemonWriter(tmp_path_factory.mktemp("clean") / "root")
    slug = w.create_session("Crab", "user", "clean")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("hi")])))
    w.append(slug, m.ToolResultEvent("c", 1, "t"))
    w.compact(slug, "summary")
    w.append(slug, m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("ok")])))
    return w.root


def cli(*args: str):
    """In-process run; returns (exit code, stdout, stderr)."""
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def sub(*args: str, env: dict | None = None):
    """Out-of-process run: ``python -m crabview``."""
    r = subprocess.run(
        [sys.executable, "-m", "crabview", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    return r.returncode, r.stdout, r.stderr


RUNNERS = [pytest.param(cli, id="clirunner"), pytest.param(sub, id="subprocess")]


# --- ls --------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_ls_json(run, store: Path) -> None:
    code, out, _ = run("ls", "--json", str(store))
    assert code == 0
    rows = json.loads(out)
    listed = {r["slug"]: r["listed"] for r in rows}
    assert listed == {
        "crab_user_1": True,
        "crab_user_2": True,
        "researcher_tg-12345_1": True,
        "coder_delegate-42_1": True,
        "crab_ops_1": False,  # corrupt meta
        "crab_ops_2": False,  # no meta
    }
    by = {r["slug"]: r for r in rows}
    assert (by["crab_user_1"]["agent"], by["crab_user_1"]["sender"], by["crab_user_1"]["seq"]) == ("crab", "user", 1)
    assert by["crab_user_1"]["title"] == "Nightly build triage"
    assert by["crab_user_1"]["compacts"] == 2


def test_ls_plain_text(store: Path) -> None:
    code, out, _ = cli("ls", str(store))
    assert code == 0
    assert "crab_user_1" in out and "Nightly build triage" in out
    assert "hidden" in out  # the unlisted sessions are flagged


def test_ls_accepts_sessions_dir_and_env(store: Path) -> None:
    code, out, _ = cli("ls", "--json", str(store / "sessions"))
    assert code == 0 and len(json.loads(out)) == 6
    code, out, _ = sub("ls", "--json", env={"CRABTALK_HOME": str(store)})
    assert code == 0 and len(json.loads(out)) == 6


# --- show ------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_show_json_fields(run, store: Path) -> None:
    code, out, _ = run("show", "--json", str(store / "sessions" / "crab_user_1"))
    assert code == 0
    d = json.loads(out)
    assert SHOW_FIELDS <= set(d)
    assert d["slug"] == "crab_user_1"
    assert d["meta_status"] == "ok" and d["load"] == "ok"
    assert d["meta"]["agent"] == "Crab" and d["meta"]["created_by"] == "user"
    assert d["archive"] == "crab-user-1-2" and d["archive_found"] is True
    files = [s["file"] for s in d["steps"]]
    assert files == sorted(files, key=lambda f: f.encode())
    for s in d["steps"]:
        assert STEP_FIELDS <= set(s)
        assert s["kind"] in m.KINDS
    assert d["next_step"] == max(s["number"] for s in d["steps"]) + 1
    # replay: the entries after the last compact, in order
    kinds = {s["file"]: s["kind"] for s in d["steps"]}
    last_compact = max(i for i, s in enumerate(d["steps"]) if s["kind"] == "compact")
    assert d["replay_files"] == [s["file"] for s in d["steps"][last_compact:] if s["kind"] == "entry"]
    assert all(kinds[f] == "entry" for f in d["replay_files"])


def test_show_json_by_slug_with_root(store: Path) -> None:
    code, out, _ = cli("show", "--json", "researcher_tg-12345_1", "--root", str(store))
    assert code == 0
    d = json.loads(out)
    assert d["slug"] == "researcher_tg-12345_1"
    assert d["archive"] is None  # the boundary is a legacy compact
    bad = [s for s in d["steps"] if s["kind"] == "unparsable"]
    assert len(bad) >= 3
    for s in bad:
        assert s["error"] and isinstance(s["offset"], int) and s["offset"] >= 0
    tmp = [s for s in d["steps"] if ".tmp." in s["file"]]
    assert tmp and tmp[0]["number"] is None
    codes = {p["code"] for p in d["problems"]}
    assert {"unparsable_step", "leftover_tmp", "lenient_decode"} <= codes
    for p in d["problems"]:
        assert p["slug"] == "researcher_tg-12345_1" and p["reason"]


def test_show_json_hidden_sessions(store: Path) -> None:
    d = json.loads(cli("show", "--json", str(store / "sessions" / "crab_ops_1"))[1])
    assert (d["meta_status"], d["load"], d["meta"]) == ("corrupt", "error", None)
    assert d["replay_files"] == []
    d = json.loads(cli("show", "--json", str(store / "sessions" / "crab_ops_2"))[1])
    assert (d["meta_status"], d["load"]) == ("missing", "none")


def test_show_json_missing_archive(store: Path) -> None:
    d = json.loads(cli("show", "--json", str(store / "sessions" / "coder_delegate-42_1"))[1])
    assert d["archive"] == "coder-delegate-42-1-lost" and d["archive_found"] is False
    codes = {p["code"] for p in d["problems"]}
    assert {"archive_missing", "step_gap", "leftover_tmp"} <= codes
    # the whole leftover tmp file is replayed
    assert any(".tmp." in f for f in d["replay_files"])


def test_show_replay_text_has_the_archive(store: Path) -> None:
    code, out, _ = cli("show", "--replay", str(store / "sessions" / "crab_user_1"))
    assert code == 0
    assert "arm64 build fixed" in out  # second archive's content


def test_show_text_does_not_emit_raw_escape_sequences(store: Path) -> None:
    code, out, _ = cli("show", str(store / "sessions" / "researcher_tg-12345_1"))
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out


def test_show_unknown_session(store: Path) -> None:
    code, out, err = cli("show", "nope_nope_1", "--root", str(store))
    assert code == 2 and "Traceback" not in err and err.strip()


# --- check -----------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_check_json_with_problems_exits_1(run, store: Path) -> None:
    code, out, _ = run("check", "--json", str(store))
    assert code == 1
    d = json.loads(out)
    assert set(d["sessions"]) == {p.name for p in (store / "sessions").iterdir() if p.is_dir()}
    for slug, s in d["sessions"].items():
        assert SHOW_FIELDS <= set(s) and s["slug"] == slug
    assert d["sessions"]["crab_user_1"]["problems"] == []
    assert d["sessions"]["crab_ops_2"]["load"] == "none"


@pytest.mark.parametrize("run", RUNNERS)
def test_check_clean_store_exits_0(run, clean_store: Path) -> None:
    code, out, _ = run("check", "--json", str(clean_store))
    assert code == 0
    d = json.loads(out)
    assert list(d["sessions"]) == ["crab_user_1"]
    assert d["sessions"]["crab_user_1"]["problems"] == []
    code, _, _ = run("check", str(clean_store))
    assert code == 0


def test_check_one_session(store: Path) -> None:
    code, out, _ = cli("check", "--json", str(store / "sessions" / "crab_user_1"))
    assert code == 0 and list(json.loads(out)["sessions"]) == ["crab_user_1"]
    code, _, _ = cli("check", str(store / "sessions" / "crab_ops_1"))
    assert code == 1


def test_check_text_lists_problems(store: Path) -> None:
    code, out, _ = cli("check", str(store))
    assert code == 1
    for c in ("unparsable_step", "leftover_tmp", "meta_missing", "meta_corrupt", "archive_missing"):
        assert c in out


# --- latest / archives / archive -----------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_latest(run, store: Path) -> None:
    code, out, _ = run("latest", "Crab", "user", "--root", str(store))
    assert (code, out.strip()) == (0, "crab_user_2")
    code, out, _ = run("latest", "researcher", "tg:12345", "--root", str(store))
    assert (code, out.strip()) == (0, "researcher_tg-12345_1")
    code, out, _ = run("latest", "Crab", "nobody", "--root", str(store))
    assert code == 1 and out.strip() == ""


def test_latest_has_no_meta_requirement(store: Path) -> None:
    # crab_ops_2 has no meta but is the largest seq for (Crab, ops)
    assert cli("latest", "Crab", "ops", "--root", str(store))[1].strip() == "crab_ops_2"


@pytest.mark.parametrize("run", RUNNERS)
def test_archives_and_archive(run, store: Path) -> None:
    code, out, _ = run("archives", "--json", str(store))
    assert code == 0
    d = json.loads(out)
    names = {e["name"]: e for e in d["entries"]}
    assert {"crab-user-1-1", "crab-user-1-2", "user-preferences"} <= set(names)
    assert names["crab-user-1-1"]["kind"] == "archive"
    assert names["user-preferences"]["aliases"] == ["prefs"]
    code, out, _ = run("archive", "crab-user-1-2", "--root", str(store))
    assert code == 0 and "arm64 build fixed" in out
    code, out, _ = run("archive", "prefs", "--root", str(store))  # by alias
    assert code == 0 and "short answers" in out
    code, _, err = run("archive", "no-such-archive", "--root", str(store))
    assert code == 1 and "Traceback" not in err


def test_archives_text(store: Path) -> None:
    code, out, _ = cli("archives", str(store))
    assert code == 0 and "crab-user-1-1" in out and "prefs" in out


# --- a missing root: exit 2, one line, no traceback --------------------------------------------


MISSING_ROOT_COMMANDS = [
    ("ls", "{root}"),
    ("ls", "--json", "{root}"),
    ("check", "{root}"),
    ("check", "--json", "{root}"),
    ("latest", "Crab", "user", "--root", "{root}"),
    ("archives", "{root}"),
    ("archive", "x", "--root", "{root}"),
    ("show", "crab_user_1", "--root", "{root}"),
]


@pytest.mark.parametrize("args", MISSING_ROOT_COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("run", RUNNERS)
def test_missing_root_exits_2_with_one_line(run, args, tmp_path: Path) -> None:
    root = str(tmp_path / "no-such-root")
    code, out, err = run(*[a.format(root=root) for a in args])
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "no-such-root" in lines[0]


def test_missing_default_root_exits_2(tmp_path: Path) -> None:
    code, _, err = sub("ls", env={"CRABTALK_HOME": str(tmp_path / "nothing"), "HOME": str(tmp_path)})
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_root_that_is_a_file_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"x")
    code, _, err = cli("ls", str(f))
    assert code == 2 and "Traceback" not in err


# --- ls must not import Textual ------------------------------------------------------------


def test_ls_does_not_import_textual(store: Path) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import crabview.cli\n"
        f"r = CliRunner().invoke(crabview.cli.main, ['ls', '--json', {str(store)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print('TEXTUAL' if bad else 'CLEAN', bad[:3])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("CLEAN"), r.stdout


def test_ls_plain_does_not_import_textual(store: Path) -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['crabview', 'ls', {str(store)!r}]\n"
        "try:\n"
        "    runpy.run_module('crabview', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('TEXTUAL' if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 'CLEAN')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("CLEAN"), r.stdout[-200:]
