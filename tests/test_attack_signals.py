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


def test_a_signal_ends_the_process_even_when_the_normal_exit_hangs() -> None:
    """Textual's shutdown can block for good once the terminal is gone (its writer thread died on
    the dead tty; a closed tmux left such processes behind): after SIGHUP/SIGTERM the process
    ends itself once the grace is over, with 128 + the signal."""
    import subprocess
    import sys
    import time

    code = (
        "import asyncio, os, signal, threading\n"
        "from crabview.tui import safe_ui\n"
        "class HangingApp:\n"
        "    is_headless = False\n"
        "    exit_signal = None\n"
        "    def exit(self, return_code=0):\n"
        "        threading.Event().wait()  # the shutdown that never returns\n"
        "async def main():\n"
        "    safe_ui.install_signal_exit(HangingApp())\n"
        "    os.kill(os.getpid(), signal.SIG{sig})\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    for sig, code_want, most in (("HUP", 129, 2.0), ("TERM", 143, 5.0)):
        t = time.monotonic()
        r = subprocess.run([sys.executable, "-c", code.format(sig=sig)], capture_output=True, timeout=30)
        took = time.monotonic() - t
        assert r.returncode == code_want, (sig, r.returncode, r.stderr[-500:])
        assert most <= took < most + 10, (sig, took)
