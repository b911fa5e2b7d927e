"""Severity: every code has one, `check` shows it and exits by --fail-on; `ls` columns align."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.problems import CODES, SEVERITIES


def cli(*args: str):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_every_code_has_one_of_three_severities() -> None:
    assert {sev for sev, _ in CODES.values()} == set(SEVERITIES) == {"error", "warning", "info"}
    assert CODES["lenient_decode"][0] == "info"
    assert CODES["leftover_tmp"][0] == CODES["step_gap"][0] == "warning"
    assert CODES["unparsable_step"][0] == CODES["meta_corrupt"][0] == CODES["unreadable_step"][0] == "error"
    assert CODES["counter_wraps"][0] == "error" and CODES["step_rewritten"][0] == "warning"


@pytest.fixture
def lenient_only(tmp_path: Path) -> Path:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "lenient")
    w.append_raw(slug, b'{"message":{"role":"user","content":[]},"extra":1}')  # decodes only leniently
    return w.root


@pytest.fixture
def with_tmp(tmp_path: Path) -> Path:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "tmp")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("hi")])))
    (w.sessions_dir / slug / "meta.tmp.4242.1").write_bytes(b'{"agent"')  # an interrupted meta write
    return w.root


def test_info_only_exits_0_by_default_and_1_with_fail_on_info(lenient_only: Path) -> None:
    code, out, err = cli("check", str(lenient_only))
    assert code == 0
    assert out.startswith("info ") and "lenient_decode" in out
    assert "1 problem (1 info) in 1 session" in err
    assert cli("check", "--fail-on", "info", str(lenient_only))[0] == 1
    code, out, _ = cli("check", "--json", str(lenient_only))
    d = json.loads(out)
    assert code == 0 and d["severity_counts"] == {"error": 0, "warning": 0, "info": 1} and d["fail_on"] == "warning"
    (p,) = next(iter(d["sessions"].values()))["problems"]
    assert p["severity"] == "info" and p["code"] == "lenient_decode"


def test_warning_threshold(with_tmp: Path) -> None:
    code, out, err = cli("check", str(with_tmp))
    assert code == 1 and out.startswith("warning leftover_tmp")
    assert cli("check", "--fail-on", "error", str(with_tmp))[0] == 0
    assert cli("check", "--fail-on", "warning", str(with_tmp))[0] == 1


def test_error_is_shown_distinctly(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "bad")
    w.append_raw(slug, b'{"message": nope')
    code, out, err = cli("check", "--fail-on", "error", str(w.root))
    assert code == 1 and out.startswith("ERROR   unparsable_step")
    assert "(1 error)" in err


def test_check_help_documents_the_default() -> None:
    code, out, _ = cli("check", "--help")
    assert code == 0 and "--fail-on" in out and "default: warning" in out


def test_ls_columns_align_past_30_character_titles(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    w.create_session("Crab", "user", "short")
    w.create_session("Crab", "user", "a title well past thirty characters, and then some more")
    w.create_session("Crab", "user", "wide 漢字漢字漢字漢字漢字漢字漢字漢字")
    code, out, _ = cli("ls", str(w.root))
    assert code == 0
    from rich.cells import cell_len

    lines = out.splitlines()
    head = lines[0]
    col = cell_len(head[: head.index("STEPS")])
    for line in lines[1:]:
        # the STEPS column's right edge sits under the header's in every row
        k = line.index(" 0 ") if " 0 " in line else None
        assert k is not None
        assert cell_len(line[: k + 2]) == col + len("STEPS"), line


def test_the_summary_counts_the_sessions_that_have_problems_of_those_checked(tmp_path) -> None:
    """Two problems in one session of two: 'in 1 session (2 checked)', not 'in 2 sessions'."""
    import subprocess
    import sys

    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    w = DaemonWriter(tmp_path / "root")
    bad = w.create_session("Crab", "user")
    w.append(bad, m.HistoryEntry(message=m.Message("user", [m.TextBlock("x")])))
    (w.sessions_dir / bad / "step-000002").write_bytes(b'{"torn')
    (w.sessions_dir / bad / "step-000009").write_bytes(b'{"torn')
    good = w.create_session("Crab", "other")
    w.append(good, m.HistoryEntry(message=m.Message("user", [m.TextBlock("fine")])))
    r = subprocess.run([sys.executable, "-m", "crabview", "check", str(tmp_path / "root")], capture_output=True, text=True)
    last = r.stderr.strip().splitlines()[-1]
    assert " in 1 session (2 checked)" in last, last
