"""Ctrl-C in the middle of long work: no traceback, and the exit code
says "interrupted" (130), never one a script would read as an answer
(`check`'s 1 means "problems found")."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter
from crabview.store import models as m


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> Path:
    w = DaemonWriter(tmp_path_factory.mktemp("sigint") / "root")
    for i in range(4):
        slug = w.create_session("big", f"u{i}")
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("A" * 40_000_000)])))
    return w.root


@pytest.mark.parametrize("cmd", [["check"], ["ls"], ["show", "--json"], ["export", "--format", "html"]])
def test_sigint_during_long_work(big_store: Path, cmd: list[str]) -> None:
    target = str(big_store / "sessions" / "big_u0_1") if cmd[0] in ("show", "export") else str(big_store)
    p = subprocess.Popen([sys.executable, "-m", "crabview", cmd[0], target, *cmd[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while _rss_kb(p.pid) < 60_000 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # until it is reading the big steps: mid-work
    if p.poll() is not None:
        pytest.fail(f"finished before it could be interrupted: {p.returncode}")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    text = err.decode()
    assert "Traceback" not in text, text
    assert p.returncode == 130, (p.returncode, text)
