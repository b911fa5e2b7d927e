"""``crabview mount``: a real FUSE mount of a store built by the daemon-like writer.

Skipped only where /dev/fuse or fusermount3 is missing. Every mount is
unmounted in teardown (fusermount3 -u, then a lazy unmount), pass or fail.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from support.capabilities import require_fuse

from crabview.demo import DaemonWriter, build_demo
from crabview.render import files as rf
from crabview.store import models as m
from crabview.store.store import Store

HAVE_DEV = os.path.exists("/dev/fuse")
FUSERMOUNT = shutil.which("fusermount3")
needs_fuse = pytest.mark.needs_fuse  # skip, or fail under CI=true (conftest)
pytestmark = pytest.mark.fuse

CLI = [sys.executable, "-m", "crabview"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def wait_for(pred, timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = pred()
        except OSError:  # e.g. a name that is not there yet
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(interval)


def force_unmount(mp: Path) -> None:
    if not os.path.ismount(mp):
        return
    subprocess.run([FUSERMOUNT or "fusermount3", "-u", str(mp)], capture_output=True)
    if os.path.ismount(mp):
        subprocess.run([FUSERMOUNT or "fusermount3", "-u", "-z", str(mp)], capture_output=True)
    if os.path.ismount(mp):
        subprocess.run(["umount", "-l", str(mp)], capture_output=True)


def tree_digest(root: Path) -> str:
    """Names, sizes, mtimes and bytes of everything under root."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(p + f"{st.st_size}:{st.st_mtime_ns}".encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class Mount:
    def __init__(self, root: Path, mp: Path, proc: subprocess.Popen):
        self.root, self.mp, self.proc = root, mp, proc

    def p(self, *parts: str) -> Path:
        return self.mp.joinpath(*parts)


def start_foreground(root: Path, mp: Path) -> subprocess.Popen:
    mp.mkdir(exist_ok=True)
    proc = subprocess.Popen([*CLI, "mount", str(root), str(mp), "--foreground"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: os.path.ismount(mp) or proc.poll() is not None, what="mount")
    except AssertionError:
        proc.kill()
        raise
    if proc.poll() is not None:
        out, err = proc.communicate()
        raise AssertionError(f"mount exited {proc.returncode}: {err.decode(errors='replace')}")
    return proc


def stop(proc: subprocess.Popen, mp: Path) -> None:
    force_unmount(mp)
    if proc.poll() is None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    force_unmount(mp)


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Mount]:
    require_fuse()
    root = build_demo(tmp_path / "store")
    mp = tmp_path / "mnt"
    proc = start_foreground(root, mp)
    try:
        yield Mount(root, mp, proc)
    finally:
        stop(proc, mp)


def all_files(top: Path) -> list[Path]:
    out = []
    for dirpath, _dirs, files in os.walk(top):
        out.extend(Path(dirpath) / f for f in files)
    return sorted(out)


# --- layout and contents ------------------------------------------------------------


@needs_fuse
def test_layout_and_contents(mounted: Mount) -> None:
    mp, root = mounted.mp, mounted.root
    assert sorted(os.listdir(mp)) == ["README.txt", "archives", "by-agent", "problems.txt", "sessions"]
    store = Store.open(root)
    slugs = [e.slug for e in store.session_entries()]
    assert sorted(os.listdir(mp / "sessions")) == sorted(slugs)
    assert "read-only" in (mp / "README.txt").read_text()
    for slug in slugs:
        s = store.load_session(slug)
        d = mp / "sessions" / slug
        meta_file = "meta.json" if s.meta is not None else "meta.error.txt"
        assert sorted(os.listdir(d)) == sorted([meta_file, "transcript.md", "replay.jsonl", "problems.txt", "steps", "raw"])
        # transcript.md and replay.jsonl are the render layer's output, byte for byte
        assert (d / "transcript.md").read_bytes() == rf.transcript_bytes(s)
        assert (d / "replay.jsonl").read_bytes() == rf.replay_bytes(s)
        for line in (d / "replay.jsonl").read_text().splitlines():
            json.loads(line)
        # one decoded file per step, named by kind
        want = sorted(rf.step_file_name(st) for st in s.steps)
        assert sorted(os.listdir(d / "steps")) == want
        for st in s.steps:
            f = d / "steps" / rf.step_file_name(st)
            if st.kind in (m.KIND_UNPARSABLE,):
                text = f.read_text()
                assert "reason: " in text and "offset: byte" in text and "salvage" in text
                assert "hex dump" in text and "<-- byte" in text
            else:
                doc = json.loads(f.read_text())
                assert doc["file"] == st.name and doc["kind"] == st.kind
        # raw/ holds the original bytes of every file in the session dir
        src = sorted(os.listdir(store.sessions_dir / slug))
        assert sorted(os.listdir(d / "raw")) == src
        for name in src:
            assert (d / "raw" / name).read_bytes() == (store.sessions_dir / slug / name).read_bytes()
        if s.meta is not None:
            assert json.loads((d / "meta.json").read_text())["agent"] == s.meta.agent
        lines = (d / "problems.txt").read_text().splitlines()
        assert len(lines) == len(s.problems)
    assert "corrupt" in (mp / "sessions/crab_ops_1/meta.error.txt").read_text()
    assert "missing" in (mp / "sessions/crab_ops_2/meta.error.txt").read_text()
    archives = sorted(e.name + ".md" for e in store.memory.entries if e.kind == "archive")
    assert sorted(os.listdir(mp / "archives")) == archives
    assert store.memory.entries[0].content in (mp / "archives" / archives[0]).read_text()
    link = mp / "by-agent/crab/user/latest"
    assert os.readlink(link) == "../../../sessions/crab_user_2"
    assert (link / "meta.json").read_bytes() == (mp / "sessions/crab_user_2/meta.json").read_bytes()
    assert os.readlink(mp / "by-agent/researcher/tg-12345/latest") == "../../../sessions/researcher_tg-12345_1"
    # every problem in the store, one per line
    total = len(store.store_problems()) + sum(len(store.load_session(x).problems) for x in slugs)
    assert len((mp / "problems.txt").read_text().splitlines()) == total > 0


@needs_fuse
def test_exact_sizes_and_times(mounted: Mount) -> None:
    files = all_files(mounted.mp)
    assert len(files) > 100
    for f in files:
        assert f.stat().st_size == len(f.read_bytes()), f
    # wc -c (which trusts st_size for regular files) agrees with a full read
    out = subprocess.run(["wc", "-c", *map(str, files)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        n, _, name = line.strip().partition(" ")
        sizes[name] = int(n)
    for f in files:
        assert sizes[str(f)] == len(f.read_bytes()), f
    # times come from the source files
    src = mounted.root / "sessions/crab_user_1/step-000003"
    assert (mounted.p("sessions/crab_user_1/raw/step-000003")).stat().st_mtime_ns == src.stat().st_mtime_ns
    assert (mounted.p("sessions/crab_user_1/steps/step-000003.entry.json")).stat().st_mtime_ns == src.stat().st_mtime_ns


@needs_fuse
def test_read_only(mounted: Mount) -> None:
    before = tree_digest(mounted.root)
    mp = mounted.mp
    f = mp / "sessions/crab_user_1/transcript.md"
    raw = mp / "sessions/crab_user_1/raw/step-000001"
    attempts = [
        lambda: open(f, "w"),
        lambda: open(raw, "r+b"),
        lambda: open(f, "a"),
        lambda: open(mp / "sessions/crab_user_1/new.txt", "x"),
        lambda: os.open(mp / "README.txt", os.O_WRONLY | os.O_TRUNC),
        lambda: os.unlink(f),
        lambda: os.unlink(raw),
        lambda: os.rename(f, mp / "sessions/crab_user_1/moved.md"),
        lambda: os.chmod(f, 0o666),
        lambda: os.mkdir(mp / "sessions/newdir"),
        lambda: os.rmdir(mp / "sessions/crab_user_1/steps"),
        lambda: os.symlink("x", mp / "sessions/link"),
        lambda: os.truncate(f, 0),
        lambda: os.utime(f, (0, 0)),
    ]
    for i, attempt in enumerate(attempts):
        with pytest.raises(OSError) as e:
            attempt()
        assert e.value.errno == errno.EROFS, (i, e.value)
    assert tree_digest(mounted.root) == before


# --- live ------------------------------------------------------------------------------


@needs_fuse
def test_new_step_and_session_appear(mounted: Mount) -> None:
    mp = mounted.mp
    steps = mp / "sessions/crab_user_2/steps"
    os.listdir(steps)
    size0 = (mp / "sessions/crab_user_2/transcript.md").stat().st_size
    w = DaemonWriter(mounted.root)
    path = w.append("crab_user_2", m.HistoryEntry(message=m.Message("user", [m.TextBlock("a brand new question, zebra-42")])))
    name = path.name + ".entry.json"
    wait_for(lambda: name in os.listdir(steps), what="new step in steps/")
    assert "zebra-42" in (steps / name).read_text()
    t = mp / "sessions/crab_user_2/transcript.md"
    wait_for(lambda: t.stat().st_size > size0, what="transcript.md growing")
    assert "zebra-42" in t.read_text()
    assert len(t.read_bytes()) == t.stat().st_size
    assert "zebra-42" in (mp / "sessions/crab_user_2/replay.jsonl").read_text()
    # a new session, and by-agent follows the daemon's latest
    slug = w.create_session("Crab", "user", "third")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("hello")])))
    wait_for(lambda: slug in os.listdir(mp / "sessions"), what="new session")
    wait_for(lambda: os.readlink(mp / "by-agent/crab/user/latest") == f"../../../sessions/{slug}", what="latest moves")
    # a compact: memory.db changes, the archive appears and replay restarts there
    arch = w.compact("crab_user_2", "summary of the outage reply")
    wait_for(lambda: f"{arch}.md" in os.listdir(mp / "archives"), what="new archive")
    first = wait_for(
        lambda: (mp / "sessions/crab_user_2/replay.jsonl").read_text().splitlines()[:1], what="replay restarts"
    )
    wait_for(lambda: json.loads((mp / "sessions/crab_user_2/replay.jsonl").read_text().splitlines()[0]).get("archive") == arch,
             what="archive first in replay.jsonl")
    assert first


@needs_fuse
def test_non_atomic_writer_is_reread(mounted: Mount) -> None:
    """A step created empty and filled later (not the daemon's way) is decoded again."""
    mp = mounted.mp
    d = mounted.root / "sessions/crab_user_2"
    p = d / "step-000100"
    p.write_bytes(b"")
    wait_for(lambda: "step-000100.unparsable.txt" in os.listdir(mp / "sessions/crab_user_2/steps"), what="empty step seen")
    from crabview.store.decode import encode

    p.write_bytes(encode(m.HistoryEntry(message=m.Message("user", [m.TextBlock("filled in later")]))))
    wait_for(lambda: "step-000100.entry.json" in os.listdir(mp / "sessions/crab_user_2/steps"), what="step re-read")


@needs_fuse
def test_grep_r(mounted: Mount) -> None:
    assert b"quokka" not in mounted.p("sessions/crab_user_1/transcript.md").read_bytes()  # decoded and cached first
    w = DaemonWriter(mounted.root)
    w.append("crab_user_1", m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("the quokka protocol")])))
    mp = mounted.mp

    def hits() -> list[str] | None:
        out = subprocess.run(["grep", "-r", "-l", "quokka", str(mp)], capture_output=True, text=True).stdout.split()
        rel = sorted(os.path.relpath(h, mp) for h in out)
        # one pass may read transcript.md just before the step shows up; a later one sees all
        return rel if len(rel) >= 4 else None

    rel = wait_for(hits, what="grep finds the new step everywhere")
    assert len(rel) == 4, rel
    assert "sessions/crab_user_1/transcript.md" in rel
    assert "sessions/crab_user_1/replay.jsonl" in rel
    assert any(r.startswith("sessions/crab_user_1/steps/") and r.endswith(".entry.json") for r in rel)
    assert any(r.startswith("sessions/crab_user_1/raw/step-") for r in rel)
    # the whole tree greps without a single error
    p = subprocess.run(["grep", "-r", "-c", "arm64", str(mp)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == ""
    counts = dict(line.rsplit(":", 1) for line in p.stdout.splitlines())
    assert int(counts[str(mp / "sessions/crab_user_1/transcript.md")]) > 0


@needs_fuse
def test_tail_f_sees_growth(mounted: Mount) -> None:
    t = mounted.p("sessions/crab_user_2/transcript.md")
    tail = subprocess.Popen(["tail", "-n", "0", "-f", str(t)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)  # let tail open the file and take its size before the write
        w = DaemonWriter(mounted.root)
        w.append("crab_user_2", m.HistoryEntry(message=m.Message("user", [m.TextBlock("narwhal sighting")])))
        got = b""
        deadline = time.monotonic() + 15
        while b"narwhal" not in got and time.monotonic() < deadline:
            r, _, _ = select.select([tail.stdout], [], [], 0.1)
            if r:
                got += os.read(tail.stdout.fileno(), 65536)
        assert b"narwhal sighting" in got
        assert b"step-000008" in got
    finally:
        tail.kill()
        tail.wait()


# --- names --------------------------------------------------------------------------------


@needs_fuse
def test_odd_names_stay_inside(tmp_path: Path) -> None:
    root = tmp_path / "store"
    w = DaemonWriter(root)
    odd = ["ünïcödé sess_x_1", "with space_a b_1", "-leading-dash_a_1", "..._x_1", "bad\udcff_x_1", "tab\there_x_1"]
    for slug in odd:
        (root / "sessions" / slug).mkdir()
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"in {slug!r}")])))
    normal = w.create_session("a", "b")
    w.append(normal, m.HistoryEntry(message=m.Message("user", [m.TextBlock("x")])))
    (root / "sessions" / normal / "step-\udcfe").write_bytes(b"{}")  # non-UTF-8 name: the daemon skips it
    w._memory.append(m.MemoryEntry(1, 0, "archive", "../../etc/passwd", "nope", []))
    w._memory.append(m.MemoryEntry(2, 0, "archive", "..", "dots", []))
    w._memory.append(m.MemoryEntry(3, 0, "archive", "a/b\x00c", "slash", []))
    w.write_memory()
    mp = tmp_path / "mnt"
    proc = start_foreground(root, mp)
    try:
        got = set(os.listdir(mp / "sessions"))
        # names are shown safe (test_attack_mount): a tab or a byte that is not UTF-8 percent-encoded
        shown = {"bad\udcff_x_1": "bad%FF_x_1", "tab\there_x_1": "tab%09here_x_1"}
        assert got == {shown.get(s, s) for s in odd} | {normal}
        for slug in odd:
            d = mp / "sessions" / shown.get(slug, slug)
            assert "transcript.md" in os.listdir(d)
            assert (d / "transcript.md").stat().st_size == len((d / "transcript.md").read_bytes())
            assert os.listdir(d / "steps") == ["step-000001.entry.json"]
        assert "step-%FE" in os.listdir(mp / "sessions" / normal / "raw")
        names = os.listdir(mp / "archives")
        assert len(names) == 3
        for n in names:
            assert "/" not in n and n not in (".", "..")
            assert (mp / "archives" / n).read_text()
        # nothing resolves outside the mount
        real_mp = os.path.realpath(mp)
        for dirpath, dirs, files in os.walk(os.fsencode(mp), followlinks=False):
            for n in dirs + files:
                assert os.path.realpath(os.path.join(dirpath, n)).startswith(os.fsencode(real_mp))
        with pytest.raises(FileNotFoundError):
            os.stat(mp / "sessions" / "no_such_1")
    finally:
        stop(proc, mp)


# --- lifecycle -------------------------------------------------------------------------------


@needs_fuse
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_unmounts_cleanly(tmp_path: Path, sig: int) -> None:
    root = build_demo(tmp_path / "store")
    mp = tmp_path / "mnt"
    proc = start_foreground(root, mp)
    try:
        assert os.listdir(mp / "sessions")
        proc.send_signal(sig)
        proc.wait(timeout=10)
        _out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert b"Traceback" not in err
        assert not os.path.ismount(mp)
        assert os.listdir(mp) == []
    finally:
        stop(proc, mp)


@needs_fuse
def test_background_mount_and_umount(tmp_path: Path) -> None:
    root = build_demo(tmp_path / "store")
    mp = tmp_path / "mnt"
    mp.mkdir()
    try:
        p = subprocess.run([*CLI, "mount", str(root), str(mp)], env=ENV, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        assert os.path.ismount(mp)  # ready when the command returns
        assert "crab_user_1" in os.listdir(mp / "sessions")
        again = subprocess.run([*CLI, "mount", str(root), str(mp)], env=ENV, capture_output=True, text=True, timeout=30)
        assert again.returncode == 2 and "already a mount point" in again.stderr
        u = subprocess.run([*CLI, "umount", str(mp)], env=ENV, capture_output=True, text=True, timeout=30)
        assert u.returncode == 0, u.stderr
        assert not os.path.ismount(mp)
        u2 = subprocess.run([*CLI, "umount", str(mp)], env=ENV, capture_output=True, text=True, timeout=30)
        assert u2.returncode == 1 and "not mounted" in u2.stderr and "Traceback" not in u2.stderr
    finally:
        force_unmount(mp)


@needs_fuse
def test_umount_cleans_a_dead_mount(tmp_path: Path) -> None:
    """The serving process killed outright leaves a stale mount; umount still ends it."""
    root = build_demo(tmp_path / "store")
    mp = tmp_path / "mnt"
    proc = start_foreground(root, mp)
    try:
        proc.kill()
        proc.wait(timeout=10)
        with pytest.raises(OSError) as e:
            os.listdir(mp)
        assert e.value.errno == errno.ENOTCONN
        again = subprocess.run([*CLI, "mount", str(root), str(mp)], env=ENV, capture_output=True, text=True, timeout=30)
        assert again.returncode == 2 and "dead mount" in again.stderr
        u = subprocess.run([*CLI, "umount", str(mp)], env=ENV, capture_output=True, text=True, timeout=30)
        assert u.returncode == 0, u.stderr
        assert os.listdir(mp) == []
    finally:
        stop(proc, mp)


@needs_fuse
def test_export_matches_mount(mounted: Mount) -> None:
    for slug in ("crab_user_1", "researcher_tg-12345_1"):
        md = subprocess.run([*CLI, "export", slug, "--root", str(mounted.root)], env=ENV, capture_output=True, check=True).stdout
        assert md == mounted.p("sessions", slug, "transcript.md").read_bytes()
        jl = subprocess.run(
            [*CLI, "export", slug, "--root", str(mounted.root), "--format", "jsonl"], env=ENV, capture_output=True, check=True
        ).stdout
        assert jl == mounted.p("sessions", slug, "replay.jsonl").read_bytes()


def test_fuse_unavailable_is_a_clear_error(tmp_path: Path) -> None:
    root = build_demo(tmp_path / "store")
    mp = tmp_path / "mnt"
    mp.mkdir()
    env = {**ENV, "FUSE_LIBRARY_NAME": "no-such-libfuse-here"}
    p = subprocess.run([*CLI, "mount", str(root), str(mp)], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "FUSE is unavailable" in p.stderr
    assert "Traceback" not in p.stderr
    assert not os.path.ismount(mp)


def test_bad_mountpoint(tmp_path: Path) -> None:
    require_fuse()  # the device check comes first
    root = build_demo(tmp_path / "store")
    p = subprocess.run([*CLI, "mount", str(root), str(tmp_path / "nope")], env=ENV, capture_output=True, text=True)
    assert p.returncode == 2 and "no such directory" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([*CLI, "mount", str(tmp_path / "no-store"), str(tmp_path)], env=ENV, capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr


# --- the tree without FUSE: caching and revalidation -----------------------------------------------


def test_tree_caches_renderings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crabview.fuse import tree as tree_mod

    root = build_demo(tmp_path / "store")
    t = tree_mod.MountTree(Store.open(root))
    calls = {"step": 0, "transcript": 0}
    real_step, real_tr = rf.step_json_bytes, rf.transcript_pieces

    def count_step(*a, **k):
        calls["step"] += 1
        return real_step(*a, **k)

    def count_tr(*a, **k):
        calls["transcript"] += 1
        return real_tr(*a, **k)

    monkeypatch.setattr(tree_mod.rf, "step_json_bytes", count_step)
    monkeypatch.setattr(tree_mod.rf, "transcript_pieces", count_tr)
    steps = [n for n, _k in t.listdir("/sessions/crab_user_1/steps")]
    for _ in range(3):
        for n in steps:
            assert t.lookup(f"/sessions/crab_user_1/steps/{n}").size > 0
        assert t.lookup("/sessions/crab_user_1/transcript.md").size > 0
    assert calls == {"step": len(steps), "transcript": 1}
    # a new step: only it is rendered; the transcript once more
    w = DaemonWriter(root)
    w.append("crab_user_1", m.HistoryEntry(message=m.Message("user", [m.TextBlock("more")])))
    # revalidation is throttled (CHECK_INTERVAL); force the next check
    t.sessions["crab_user_1"].checked = -1.0
    t._sessions_checked = -1.0
    steps2 = [n for n, _k in t.listdir("/sessions/crab_user_1/steps")]
    assert len(steps2) == len(steps) + 1
    for n in steps2:
        t.lookup(f"/sessions/crab_user_1/steps/{n}")
    t.lookup("/sessions/crab_user_1/transcript.md")
    assert calls == {"step": len(steps) + 1, "transcript": 2}
    # names that try to leave the tree resolve to nothing
    for bad in ("/sessions/../README.txt", "/sessions/crab_user_1/raw/../meta.json", "/archives/..", "/sessions/./crab_user_1"):
        assert t.lookup(bad) is None


def test_fit_name_and_safe_component() -> None:
    from crabview.fuse.tree import fit_name, safe_component

    long = "step-" + "9" * 300 + ".entry.json"
    short = fit_name(long)
    assert len(short.encode()) <= 255 and short.endswith(".json") and short != fit_name(long[:-6] + "8.json")
    assert fit_name("step-000001.entry.json") == "step-000001.entry.json"
    for bad in ("..", ".", "", "a/b", "x\x00y", "../../etc"):
        s = safe_component(bad)
        assert "/" not in s and "\x00" not in s and s not in ("", ".", "..")


def test_young_tmp_files_wait_for_their_grace(tmp_path: Path) -> None:
    """An in-flight atomic write is not shown; a leftover that stays is."""
    from crabview.fuse import tree as tree_mod

    root = build_demo(tmp_path / "store")
    t = tree_mod.MountTree(Store.open(root))
    node = t.session("crab_user_2")
    assert node is not None
    before = set(node.step_names())
    tmp = root / "sessions/crab_user_2/step-000008.tmp.1.2"
    tmp.write_bytes(b'{"message":')
    node.checked = -1.0
    assert set(node.step_names()) == before
    assert tmp.name not in [n for n, _k in t.listdir("/sessions/crab_user_2/raw")]
    old = time.time() - 5
    os.utime(tmp, (old, old))
    node.checked = -1.0
    assert set(node.step_names()) - before == {"step-000008.tmp.1.2.unparsable.txt"}
    assert tmp.name in [n for n, _k in t.listdir("/sessions/crab_user_2/raw")]
    assert any(p.code == "leftover_tmp" for p in node.session.problems)
