"""Where the output goes is hostile too: a full disk, a closed stdout or
stderr, a reader that goes away. Always one honest line (or silence for a
reader that left) and an exit code, never a traceback or a message that
blames the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crabview.demo import build_demo

COMMANDS = [["ls", "{root}"], ["ls", "{root}", "--json"], ["check", "{root}"], ["show", "{session}"], ["show", "{session}", "--json"],
            ["tail", "{root}", "-n", "50"], ["archives", "{root}"], ["export", "{session}", "--format", "html"]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, str]:
    root = build_demo(tmp_path_factory.mktemp("streams") / "root")
    session = sorted((root / "sessions").iterdir())[0]
    return str(root), str(session)


def _argv(cmd: list[str], demo: tuple[str, str]) -> list[str]:
    root, session = demo
    return [sys.executable, "-m", "crabview", *(a.format(root=root, session=session) for a in cmd)]


def _start_all(cmds, demo, **kw):
    return [(c, subprocess.Popen(_argv(c, demo), stderr=subprocess.PIPE, **kw)) for c in cmds]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_on_stdout_is_a_write_error_not_a_store_error(demo) -> None:
    with open("/dev/full", "wb") as full:
        procs = _start_all(COMMANDS, demo, stdout=full)
        for c, p in procs:
            _, err = p.communicate(timeout=60)
            text = err.decode()
            assert p.returncode == 2, (c, text)
            assert "Traceback" not in text and len(text.splitlines()) == 1, (c, text)
            assert "write" in text and "No space left" in text and "read" not in text, (c, text)


def test_closed_stdout_is_one_clear_line(demo) -> None:
    # the same commands with fd 1 closed (as `crabview ls >&-` does)
    procs = [(c, subprocess.Popen(["/bin/sh", "-c", 'exec "$@" >&-', "sh", *_argv(c, demo)], stderr=subprocess.PIPE)) for c in COMMANDS]
    for c, p in procs:
        _, err = p.communicate(timeout=60)
        text = err.decode()
        assert p.returncode == 2, (c, text)
        assert "Traceback" not in text and "internal error" not in text and len(text.splitlines()) == 1, (c, text)
        assert "stdout" in text, (c, text)


def test_closed_stderr_still_gives_the_exit_code(demo, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "crabview", "show", str(tmp_path / "no-such-session")]
    p = subprocess.run(["/bin/sh", "-c", 'exec "$@" 2>&-', "sh", *argv], capture_output=True, timeout=60)
    assert p.returncode == 2 and b"Traceback" not in p.stdout


def test_reader_that_goes_away_gets_no_traceback(demo) -> None:
    procs = []
    for c in COMMANDS:
        p = subprocess.Popen(_argv(c, demo), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.read(10)
        p.stdout.close()  # like `| head -c 10`
        procs.append((c, p))
    for c, p in procs:
        err = p.stderr.read().decode()
        p.wait(timeout=60)
        assert "Traceback" not in err and "Exception ignored" not in err and "internal error" not in err, (c, err)
        assert p.returncode in (0, 1, 141), (c, p.returncode, err)
