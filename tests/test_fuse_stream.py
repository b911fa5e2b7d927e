"""The mount's big files through a real FUSE mount: ``os.pread`` at random
offsets and sizes gives the bytes of the whole file (the CLI export's),
with the kernel's page cache dropped between reads so every read reaches
the mount; and an open handle keeps its snapshot while the session grows.

The session's transcript is bigger than the mount's rendered-bytes cache
(``fuse/streamed.py``), so reads land in segments rendered again from
their checkpoints, not only in what the sizing pass kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.capabilities import require_fuse
from test_fuse import start_foreground, stop, wait_for
from test_streamed_file import build_session

from crabview.demo import DaemonWriter
from crabview.fuse.streamed import CACHE_BYTES
from crabview.store import models as m

pytestmark = pytest.mark.fuse

CLI = [sys.executable, "-m", "crabview"]


class Big:
    def __init__(self, root: Path, mp: Path, slug: str, whole: dict[str, bytes]):
        self.root, self.mp, self.slug, self.whole = root, mp, slug, whole

    def path(self, name: str) -> Path:
        return self.mp / "sessions" / self.slug / name


def export(root: Path, slug: str, *args: str) -> bytes:
    p = subprocess.run([*CLI, "export", slug, "--root", str(root), *args], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Big]:
    require_fuse()
    base = tmp_path_factory.mktemp("fuse-stream")
    root = base / "store"
    slug = build_session(root, 240, text=60_000, compact_every=150)
    whole = {
        "transcript.md": export(root, slug, "--format", "md"),
        "replay.jsonl": export(root, slug, "--format", "jsonl", "--replay"),
    }
    assert min(map(len, whole.values())) > 1.2 * CACHE_BYTES  # past what the sizing pass keeps
    mp = base / "mnt"
    proc = start_foreground(root, mp)
    try:
        yield Big(root, mp, slug, whole)
    finally:
        stop(proc, mp)


@pytest.mark.needs_fuse
def test_whole_files_are_the_exports(big: Big) -> None:
    for name, want in big.whole.items():
        p = big.path(name)
        assert p.stat().st_size == len(want)
        assert p.read_bytes() == want


@pytest.mark.needs_fuse
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["transcript.md", "replay.jsonl"]),
    reads=st.lists(st.tuples(st.floats(0, 1.0), st.integers(1, 300_000)), min_size=1, max_size=8),
)
def test_pread_at_any_offset_is_the_exports_bytes(big: Big, name: str, reads: list[tuple[float, int]]) -> None:
    want = big.whole[name]
    fd = os.open(big.path(name), os.O_RDONLY)
    try:
        for frac, size in reads:
            offset = min(int(frac * len(want)), len(want))
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the next read reaches the mount
            assert os.pread(fd, size, offset) == want[offset : offset + size]
    finally:
        os.close(fd)


@pytest.mark.needs_fuse
def test_a_handle_reads_its_snapshot_while_the_session_changes(big: Big) -> None:
    """Opened before a compact (which rewrites replay.jsonl from its first
    byte; this writer also reuses an archive name, which changes an older
    boundary's text in transcript.md), a handle reads the file it opened
    at every offset, seeking back and forth. (The summary is long, so both
    files grow: a file that shrank would have the kernel end reads at its
    new size, whatever the mount serves.)"""
    old = dict(big.whole)
    fds = {name: os.open(big.path(name), os.O_RDONLY) for name in old}
    steps = big.mp / "sessions" / big.slug / "steps"
    try:
        before = len(os.listdir(steps))
        w = DaemonWriter(big.root)
        w.compact(big.slug, "a long summary " * (len(old["replay.jsonl"]) // 10))
        w.append(big.slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("after the compact")])))
        wait_for(lambda: len(os.listdir(steps)) >= before + 2, what="the mount seeing the new steps")
        for name, fd in fds.items():
            want = old[name]
            for offset in (len(want) - 5000, 0, len(want) // 2, 7, len(want) - 1, len(want) // 3, 3 * CACHE_BYTES // 2):
                offset = min(offset, len(want) - 1)
                size = min(70_000, len(want) - offset)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                assert os.pread(fd, size, offset) == want[offset : offset + size], (name, offset)
        new = {name: big.path(name).read_bytes() for name in old}
        assert new["replay.jsonl"][:100] != old["replay.jsonl"][:100] and len(new["replay.jsonl"]) > len(old["replay.jsonl"])
        assert new["transcript.md"] != old["transcript.md"]
        assert new["transcript.md"] == export(big.root, big.slug, "--format", "md")
        assert new["replay.jsonl"] == export(big.root, big.slug, "--format", "jsonl", "--replay")
    finally:
        for fd in fds.values():
            os.close(fd)
        big.whole = {
            "transcript.md": export(big.root, big.slug, "--format", "md"),
            "replay.jsonl": export(big.root, big.slug, "--format", "jsonl", "--replay"),
        }
