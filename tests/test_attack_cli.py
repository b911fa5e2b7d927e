"""CLI arguments an attacker (or a typo) can shape: a path that does not
exist, a symlink loop where a session should be. The message names the
path as typed and the real reason; it never blames a default store the
user did not ask about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crabview.demo import build_demo


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crabview", *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = build_demo(tmp_path_factory.mktemp("cli") / "root")
    os.symlink("loop_x_1", root / "sessions" / "loop_x_1")
    return root


@pytest.mark.parametrize("cmd", [["show"], ["export"], ["tail"], ["check"], ["export", "--format", "jsonl"]])
def test_a_missing_path_is_named_not_the_default_store(store: Path, tmp_path: Path, cmd: list[str]) -> None:
    home = tmp_path / "home"  # no ~/.crabtalk there
    home.mkdir()
    env = {"HOME": str(home), "CRABTALK_HOME": ""}
    for arg in (str(tmp_path / "no" / "such" / "session"), "./nope/x"):
        r = _cli(*cmd, arg, cwd=tmp_path, env=env)
        assert r.returncode == 2, (cmd, arg, r.stderr)
        assert r.stderr.count("\n") == 1 and arg in r.stderr and "no such file or directory" in r.stderr, (cmd, arg, r.stderr)
        assert ".crabtalk" not in r.stderr, (cmd, arg, r.stderr)


@pytest.mark.parametrize("cmd", [["show"], ["export"], ["tail"], ["check"], ["ls"]])
def test_a_symlink_loop_says_so(store: Path, tmp_path: Path, cmd: list[str]) -> None:
    loop = str(store / "sessions" / "loop_x_1")
    r = _cli(*cmd, loop, cwd=tmp_path)
    assert r.returncode == 2, (cmd, r.stderr)
    assert r.stderr.count("\n") == 1 and loop in r.stderr and "symbolic links" in r.stderr, (cmd, r.stderr)


def test_latest_of_an_unreadable_session_still_answers(tmp_path: Path) -> None:
    """The daemon's pick does not need the session readable; the meta note
    must not turn a right answer into exit 2."""
    from support.hostile import drop_dac_powers

    root = build_demo(tmp_path / "root")
    (root / "sessions" / "crab_ops_2").chmod(0)
    try:
        r = subprocess.run([sys.executable, "-m", "crabview", "latest", "crab", "ops", "--root", str(root)], capture_output=True,
                           text=True, timeout=60, preexec_fn=drop_dac_powers)
    finally:
        (root / "sessions" / "crab_ops_2").chmod(0o755)
    assert r.returncode == 0 and r.stdout == "crab_ops_2\n", (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "cannot tell" in r.stderr, r.stderr
