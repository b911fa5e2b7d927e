"""crabview never writes into a store (FORMAT.md preamble, issue 2 item 5).

Snapshot every byte, mode and mtime (and every directory listing) of a demo
store, run every read-only CLI command over it, and compare.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crabview.cli import main

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict:
    """path -> (mode, mtime_ns, size, bytes or listing); includes the root itself."""
    snap: dict = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        st = os.lstat(dirpath)
        snap[dirpath] = ("dir", st.st_mode, st.st_mtime_ns, tuple(sorted(dirnames + filenames)))
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            else:
                data = None
            snap[p] = ("file", st.st_mode, st.st_mtime_ns, st.st_size, data)
    return snap


def commands(store: Path) -> list[list[str]]:
    root = str(store)
    sessions = sorted(p.name for p in (store / "sessions").iterdir())
    cmds = [
        ["ls", root],
        ["ls", "--json", root],
        ["ls", "--json", "--quick", root],
        ["check", root],
        ["check", "--json", root],
        ["latest", "Crab", "user", "--root", root],
        ["latest", "nobody", "none", "--root", root],
        ["archives", root],
        ["archives", "--json", root],
        ["archive", "crab-user-1-1", "--root", root],
        ["archive", "prefs", "--root", root],
        ["archive", "missing-name", "--root", root],
    ]
    for slug in sessions:
        path = str(store / "sessions" / slug)
        cmds += [
            ["show", "--json", path],
            ["show", path],
            ["show", "--replay", path],
            ["show", "--json", "--replay", slug, "--root", root],
            ["check", "--json", path],
            ["ls", "--json", path],
        ]
    return cmds


def run_all(store: Path) -> list[tuple[list[str], int, str]]:
    results = []
    runner = CliRunner()
    for args in commands(store):
        r = runner.invoke(main, args)
        results.append((args, r.exit_code, (r.stderr or "") + repr(r.exception or "")))
    return results


def _expected_ok(args: list[str], code: int) -> bool:
    # check exits 1 when it finds problems, latest/archive exit 1 when nothing
    # is found; 2 (unusable root) or a crash are failures.
    if args[0] in ("check", "latest", "archive"):
        return code in (0, 1)
    return code == 0


def test_no_command_changes_the_store(demo_store: Path) -> None:
    before = snapshot(demo_store)
    time.sleep(0.01)  # a write now would get a different mtime
    results = run_all(demo_store)
    sub = subprocess.run(
        [sys.executable, "-m", "crabview", "check", "--json", str(demo_store)], capture_output=True, cwd=REPO, timeout=60
    )
    assert sub.returncode == 1
    after = snapshot(demo_store)
    assert set(after) == set(before), set(after) ^ set(before)
    changed = [p for p in before if before[p] != after[p]]
    assert changed == []
    bad = [(a, c, e) for a, c, e in results if not _expected_ok(a, c)]
    assert bad == []


@pytest.fixture
def read_only_store(demo_store: Path, tmp_path: Path):
    ro = tmp_path / "ro"
    shutil.copytree(demo_store, ro, symlinks=True)
    for dirpath, dirnames, filenames in os.walk(ro):
        for n in filenames:
            p = os.path.join(dirpath, n)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
        os.chmod(dirpath, os.stat(dirpath).st_mode & ~0o222)
    yield ro
    for dirpath, _, _ in os.walk(ro):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o200)


def test_every_command_works_on_a_read_only_store(read_only_store: Path) -> None:
    # NOTE: the suite usually runs as root, and root ignores write permission
    # bits, so a stray write would not fail with EACCES here; the snapshot
    # comparison below (and test_no_command_changes_the_store) is what
    # catches writes. Under a normal user this test also proves no command
    # needs write access.
    assert os.stat(read_only_store / "sessions").st_mode & 0o222 == 0
    before = snapshot(read_only_store)
    results = run_all(read_only_store)
    bad = [(a, c, e) for a, c, e in results if not _expected_ok(a, c)]
    assert bad == []
    assert snapshot(read_only_store) == before
