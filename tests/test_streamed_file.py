"""The mount's big files are served from ``StreamedFile``: exact bytes at any
offset, a bounded index and cache, and never a torn snapshot.

In-process (no kernel): the reads go through ``CrabFS`` (``getattr``,
``open``, ``read``, as libfuse calls them) or straight to the file object
with tiny limits, so every seek path is exercised. The real mount is
tested in ``test_fuse_stream.py``.
"""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.fast_writer import FastWriter

from crabview.demo import turn
from crabview.fuse import streamed
from crabview.fuse.ops import CrabFS
from crabview.fuse.streamed import SnapshotLost, StreamedFile
from crabview.fuse.tree import MountTree
from crabview.render import files as rf
from crabview.store import models as m
from crabview.store import session as session_mod
from crabview.store.session import Session
from crabview.store.store import Store


def build_session(root: Path, turns: int, text: int = 0, compact_every: int = 0) -> str:
    """A session of ``turns`` daemon-like turns (7 steps each); ``text``
    extra characters of user text per turn make the transcript big."""
    rng = random.Random(7)
    with FastWriter(root) as w:
        slug = w.create_session("Crab", "stream", "streamed files")
        for i in range(turns):
            turn(w, slug, rng, i)
            if text:
                w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"turn {i} " + "lorem ipsum " * (text // 12))])))
            if compact_every and i % compact_every == compact_every - 1:
                w.compact(slug, f"summary {i}")
    return slug


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("streamed") / "store"
    return root, build_session(root, 60, text=300, compact_every=25)


def _files(root: Path, slug: str) -> dict[str, tuple[rf.Pieces, bytes]]:
    s = Store.open(root).load_session(slug)
    return {
        "transcript": (rf.transcript_pieces(s), rf.transcript_bytes(s)),
        "replay-transcript": (rf.transcript_pieces(s, True), rf.transcript_bytes(s, True)),
        "replay": (rf.replay_file_pieces(s), rf.replay_bytes(s)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["transcript", "replay-transcript", "replay"]),
    spacing=st.integers(1, 4096),
    most=st.integers(2, 9),
    cache=st.integers(0, 8192),
    reads=st.lists(st.tuples(st.floats(0, 1.05), st.integers(0, 20_000)), min_size=1, max_size=25),
)
def test_any_read_at_any_offset_is_the_whole_files_bytes(small_store, which, spacing, most, cache, reads) -> None:
    root, slug = small_store
    pieces, whole = _files(root, slug)[which]
    f = StreamedFile(pieces, spacing=spacing, max_checkpoints=most, cache_bytes=cache)
    assert f.size == len(whole)
    assert len(f.offsets) <= most + 1  # the index is bounded, whatever the size
    biggest = max(b - a for a, b in zip(f.offsets, f.offsets[1:]))
    for frac, size in reads:
        offset = int(frac * len(whole))
        assert f.read(offset, size) == whole[offset : offset + size]
        # what is kept: the limit, or the one segment just read when bigger
        assert f.cached_bytes <= max(cache, 0) + 2 * biggest


def test_sequential_reads_render_each_segment_once(small_store) -> None:
    root, slug = small_store
    pieces, whole = _files(root, slug)["transcript"]
    f = StreamedFile(pieces, spacing=2048, max_checkpoints=64, cache_bytes=0)
    got = b"".join(f.read(off, 4096) for off in range(0, len(whole), 4096))
    assert got == whole
    assert f.renders == len(f.offsets) - 1  # cat: one rendering pass, no seek back


def test_extends_is_true_only_for_an_appended_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    slug = build_session(root, 20)
    s = Store.open(root).load_session(slug)
    before = StreamedFile(rf.transcript_pieces(s), spacing=512)
    w = FastWriter(root)
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("one more")])))
    w.close()
    s.refresh()
    after = StreamedFile(rf.transcript_pieces(s), spacing=512)
    assert after.extends(before) and not before.extends(after)
    assert after.read(0, before.size) == before.read(0, before.size)
    w = FastWriter(root)
    w.compact(slug, "now replay.jsonl starts over")
    w.close()
    r_before = StreamedFile(rf.replay_file_pieces(Store.open(root).load_session(slug)), spacing=512)
    w = FastWriter(root)
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("after the compact")])))
    w.close()
    r_after = StreamedFile(rf.replay_file_pieces(Store.open(root).load_session(slug)), spacing=512)
    assert r_after.extends(r_before)
    w = FastWriter(root)
    w.compact(slug, "another summary")
    w.close()
    r_compacted = StreamedFile(rf.replay_file_pieces(Store.open(root).load_session(slug)), spacing=512)
    assert r_compacted.size > 0 and not r_compacted.extends(r_after)


def test_a_step_rewritten_under_a_lazy_session_is_refused_not_torn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big session keeps step values on disk: a step file rewritten in
    place since the snapshot cannot give other bytes than the file had."""
    monkeypatch.setattr(session_mod, "LAZY_THRESHOLD", 10)
    root = tmp_path / "store"
    slug = build_session(root, 30, text=200)
    s = Session(root / "sessions" / slug).load()
    assert s.source is not None  # lazy
    f = StreamedFile(rf.transcript_pieces(s), spacing=1024, cache_bytes=0)
    whole = f.read(0, f.size)
    sdir = root / "sessions" / slug
    path = next(sdir / st.name for st in s.steps if b"lorem" in (sdir / st.name).read_bytes())
    path.write_bytes(path.read_bytes().replace(b"lorem", b"LOREM"))
    s.source.cache.clear()
    got = []
    for off in range(0, f.size, 1000):
        try:
            got.append((off, f.read(off, 1000)))
        except SnapshotLost:
            got.append((off, None))
    assert any(b is None for _o, b in got)  # the rewritten step's segment is refused
    for off, b in got:
        assert b is None or b == whole[off : off + 1000]  # everything served is the snapshot's


# --- through CrabFS, as libfuse calls it ------------------------------------------------


def _fi(flags: int = 0) -> SimpleNamespace:
    return SimpleNamespace(flags=flags, fh=0, direct_io=0, keep_cache=0)


def digest_through_ops(ops: CrabFS, path: str, chunk: int = 131072) -> tuple[int, str]:
    """(size, sha256) of a file read in order as the kernel would, keeping none of it."""
    size = ops.getattr(path)["st_size"]
    fi = _fi()
    ops.open(path, fi)
    h = hashlib.sha256()
    try:
        for off in range(0, size, chunk):
            h.update(ops.read(path, chunk, off, fi))
    finally:
        ops.release(path, fi)
    return size, h.hexdigest()


def test_serving_a_big_transcript_holds_a_bounded_part_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory allocated to serve transcript.md and replay.jsonl (sizing,
    open, reading it all) stays far below the file's size: the whole
    rendering is never held, only the cache limit and the snapshot."""
    monkeypatch.setattr(streamed, "CACHE_BYTES", 256 << 10)
    root = tmp_path / "store"
    slug = build_session(root, 400, text=12_000)
    ops = CrabFS(MountTree(Store.open(root)))
    base = f"/sessions/{slug}"
    ops.getattr(f"{base}/meta.json")  # the session is loaded before counting
    s = Store.open(root).load_session(slug)
    for name, want in (("transcript.md", rf.transcript_bytes(s)), ("replay.jsonl", rf.replay_bytes(s))):
        assert len(want) > 4_000_000
        tracemalloc.start()
        try:
            got = digest_through_ops(ops, f"{base}/{name}")
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got == (len(want), hashlib.sha256(want).hexdigest())
        held = ops.tree.sessions[slug]._files[name]
        assert held.cached_bytes <= streamed.CACHE_BYTES + 2 * max(b - a for a, b in zip(held.offsets, held.offsets[1:]))
        assert peak < len(want) // 4, (name, peak, len(want))
