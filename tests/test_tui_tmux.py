"""Real-terminal smoke test: `crabview demo` under tmux shows the demo and quits on q."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_tmux  # skip, or fail under CI=true (conftest)


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _wait_screen(session: str, pred, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = _capture(session)
        if pred(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"screen never matched; last capture:\n{text}")
        time.sleep(0.1)


def test_demo_in_a_real_terminal(tmp_path: Path) -> None:
    session = f"crabview-smoke-{os.getpid()}"
    store = tmp_path / "demo"
    cmd = f"{sys.executable} -m crabview demo {store}; echo CRABVIEW-EXITED $?; sleep 30"
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "50", cmd], check=True, env=env)
    try:
        text = _wait_screen(session, lambda t: "Nightly build triage" in t and "Quit" in t)
        for title in ("Nightly build triage", "Outage reply", "Token usage report", "Rename config key"):
            assert title in text
        assert "hidden: bad meta" in text
        # jump to the last compact boundary: a full-width divider
        subprocess.run(["tmux", "send-keys", "-t", session, "C"], check=True)
        text = _wait_screen(session, lambda t: "══ compact · archive crab-user-1-2" in t)
        assert "replay starts here" in text and "not replayed" in text
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        text = _wait_screen(session, lambda t: "CRABVIEW-EXITED" in t)
        assert "CRABVIEW-EXITED 0" in text
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
