"""The FUSE mount over the hostile store: only what the daemon reads, nothing
from outside the root, every file readable and inert, no reader blocked,
no torn snapshot."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from support.capabilities import require_fuse
from support.hostile import build_hostile_store, raw_controls, snapshot
from test_fuse import force_unmount, start_foreground, stop

pytestmark = pytest.mark.fuse




@pytest.fixture(scope="module")
def hmount(tmp_path_factory: pytest.TempPathFactory):
    require_fuse()
    base = tmp_path_factory.mktemp("hostile-mount")
    h = build_hostile_store(base)
    mp = base / "mnt"
    proc = start_foreground(h.root, mp)
    try:
        yield h, mp
    finally:
        stop(proc, mp)
        force_unmount(mp)


def test_raw_holds_only_meta_and_steps(hmount) -> None:
    h, mp = hmount
    slug = h.slugs["evil"]
    names = os.listdir(mp / "sessions" / slug / "raw")
    assert names and all(n == "meta" or n.startswith("step-") for n in names), names
    assert "notes.txt" not in names and "Step-000001" not in names
    assert not (mp / "sessions" / slug / "raw" / "notes.txt").exists()


def test_links_outside_the_root_keep_their_verdict_but_serve_no_bytes(hmount) -> None:
    h, mp = hmount
    etc = mp / "sessions" / h.slugs["etc"]
    for name in os.listdir(etc / "raw"):
        assert b"SECRET" not in (etc / "raw" / name).read_bytes()
    assert "shadow" not in os.listdir(etc / "raw") and "passwd" not in os.listdir(etc / "raw")
    linked = mp / "sessions" / h.slugs["linked"]
    served = (linked / "raw" / "step-000002").read_bytes()
    assert b"SECRET" not in served and b"not served" in served and str(h.secret).encode() in served
    steps = os.listdir(linked / "steps")
    unparsable = [n for n in steps if n.startswith("step-000002")]
    assert unparsable == ["step-000002.unparsable.txt"]  # the verdict stays the daemon's
    text = (linked / "steps" / unparsable[0]).read_bytes()
    assert b"SECRET" not in text and b"not served" in text


def test_every_file_reads_inert_and_fast(hmount, tmp_path: Path) -> None:
    h, mp = hmount
    before = snapshot(h.root, h.outside)
    for dirpath, _dirs, files in os.walk(mp):
        for f in files:
            p = Path(dirpath) / f
            t = time.monotonic()
            data = p.read_bytes()  # no EINVAL, whatever the step
            assert time.monotonic() - t < 5, p
            if "/raw/" in str(p):
                continue  # raw/ is the bytes as they are, by design
            assert raw_controls(data.decode("utf-8", "replace")) == [], (p, raw_controls(data.decode("utf-8", "replace")))
    assert snapshot(h.root, h.outside) == before


def test_a_slow_file_never_blocks_other_readers(hmount) -> None:
    h, mp = hmount
    deep = mp / "sessions" / h.slugs["deep"] / "steps"
    done = threading.Event()

    def list_deep() -> None:
        for _ in range(3):
            for name in os.listdir(deep):
                os.stat(deep / name)
        done.set()

    th = threading.Thread(target=list_deep, daemon=True)
    th.start()
    worst = 0.0
    while not done.is_set():
        t = time.monotonic()
        (mp / "README.txt").read_bytes()
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.01)
    th.join(30)
    assert worst < 1.0, worst


def test_an_open_handle_reads_one_snapshot(hmount) -> None:
    """replay.jsonl changes shape when a compact lands; a reader that opened it before reads the old file whole."""
    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    h, mp = hmount
    w = DaemonWriter(h.root)
    slug = w.create_session("torn", "reader")
    for k in range(200):
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"line {k} " + "x" * 500)])))
    p = mp / "sessions" / slug / "replay.jsonl"
    time.sleep(0.2)
    with open(p, "rb", buffering=0) as f:
        first = f.read(65536)
        w.compact(slug, "the summary")  # replay.jsonl now starts with the archive
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("after")])))
        time.sleep(0.3)
        rest = b"".join(iter(lambda: f.read(65536), b""))
    whole = first + rest
    assert whole.endswith(b"\n")
    import json

    rows = [json.loads(x) for x in whole.splitlines()]  # never a line cut in two
    assert len(rows) == 200 and "archive" not in rows[0]
