"""The mount over the attack store: every name it lists is a store string
made safe (no escape, newline, C1 or invisible character in any file or
directory name), every listed entry opens and reads, and each name still
leads to the right store file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.attack import build_attack_store, unsafe_chars
from support.capabilities import require_fuse
from test_fuse import force_unmount, start_foreground, stop

pytestmark = pytest.mark.fuse


@pytest.fixture(scope="module")
def amount(tmp_path_factory: pytest.TempPathFactory):
    require_fuse()
    base = tmp_path_factory.mktemp("attack-mount")
    a = build_attack_store(base)
    mp = base / "mnt"
    proc = start_foreground(a.root, mp)
    try:
        yield a, mp
    finally:
        stop(proc, mp)
        force_unmount(mp)


def _walk(mp: Path) -> list[tuple[str, str]]:
    """(path relative to the mount, kind) of everything, iteratively."""
    out, todo = [], [str(mp)]
    while todo:
        d = todo.pop()
        with os.scandir(d) as it:
            for e in it:
                rel = os.path.relpath(e.path, mp)
                if e.is_symlink():
                    out.append((rel, "link"))
                elif e.is_dir():
                    out.append((rel, "dir"))
                    todo.append(e.path)
                else:
                    out.append((rel, "file"))
    return out


def test_every_name_in_the_mount_is_safe_and_every_entry_reads(amount) -> None:
    a, mp = amount
    entries = _walk(mp)
    bad = [(rel, unsafe_chars(rel)) for rel, _ in entries if unsafe_chars(rel) or "\n" in rel]
    assert bad == []
    for rel, kind in entries:
        p = mp / rel
        if kind == "file":
            data = p.read_bytes()
            assert len(data) == p.stat().st_size, rel
        elif kind == "link":
            assert p.resolve().is_dir(), rel  # by-agent/<a>/<s>/latest leads to its session


def test_each_safe_name_leads_to_its_store_file(amount) -> None:
    a, mp = amount
    named = a.slugs["named"]
    sessions = os.listdir(mp / "sessions")
    assert len(sessions) == len(os.listdir(a.sessions))  # one entry per session directory, none lost to escaping
    fields = mp / "sessions" / a.slugs["fields"]
    # a step named with a newline and escapes: its raw bytes are that file's bytes
    store_names = sorted(n for n in os.listdir(a.sessions / a.slugs["fields"]) if n.startswith("step-"))
    raw_names = sorted(os.listdir(fields / "raw"))
    assert len([n for n in raw_names if n.startswith("step-")]) == len(store_names)
    assert "step-%9B2J-raw-byte" in raw_names  # a name that is not UTF-8: its bytes, percent-encoded
    served = {(fields / "raw" / n).read_bytes() for n in raw_names if n != "meta"}
    for n in store_names:
        assert (a.sessions / a.slugs["fields"] / n).read_bytes() in served, n
    # the session named with a newline: its files are there under the safe name
    safe_named = [s for s in sessions if s.startswith("crab_u") and "forged_1" in s]
    assert len(safe_named) == 1 and safe_named[0] != named
    assert (mp / "sessions" / safe_named[0] / "raw" / "step-000001").read_bytes() == (a.sessions / named / "step-000001").read_bytes()


def test_a_big_step_reads_in_one_pass(tmp_path: Path) -> None:
    """Reading a big steps/ file chunk by chunk must not render it again per
    chunk. Before, a rendering bigger than the per-session cache (64 MB) was
    evicted as soon as it was made, and every 128 KB read rendered the whole
    step anew: a 100 MB step took hours to `cat` and held the session's lock."""
    import subprocess
    import time

    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    require_fuse()
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("big", "one")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("A" * 70_000_000)])))
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("small")])))
    mp = tmp_path / "mnt"
    proc = start_foreground(w.root, mp)
    try:
        steps = mp / "sessions" / slug / "steps"
        t0 = time.monotonic()
        r = subprocess.run(["dd", f"if={steps / 'step-000001.entry.json'}", "of=/dev/null", "bs=128k"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert b"70000" in r.stderr  # all of it (dd: "700003xx bytes copied")
        took = time.monotonic() - t0
        assert took < 30, took  # a few renderings at most, not one per chunk (560 of them)
        assert (steps / "step-000002.entry.json").read_bytes().count(b"small") == 1
    finally:
        stop(proc, mp)
        force_unmount(mp)
