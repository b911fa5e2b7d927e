"""Hostile layouts: each gets a defined behaviour (listed in the README).

symlinks leading out of the root, ``step-`` directories, FIFOs and devices
named ``step-…`` (must not block), names that are not UTF-8, unreadable
files, and many sessions in one root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.session import load_session
from crabview.store.store import Store


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crabview", *args], capture_output=True, text=True, timeout=timeout)


def with_deadline(fn, seconds: float = 5.0):
    """Run fn in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # pragma: no cover - surfaced below
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn} blocked for {seconds}s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_fifo_named_step_does_not_block_and_is_unreadable(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("a"))
    os.mkfifo(writer.sessions_dir / slug / "step-000002")
    s = with_deadline(lambda: load_session(writer.sessions_dir / slug))
    st = s.steps[1]
    assert st.kind == "unreadable" and "FIFO" in st.error
    assert s.load_status == "error"  # the daemon's read would block: it cannot resume
    r = with_deadline(lambda: run_cli("show", str(writer.sessions_dir / slug), "--json"), 30)
    assert json.loads(r.stdout)["steps"][1]["kind"] == "unreadable"


def test_symlink_to_a_device_is_unreadable_not_an_endless_read(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    os.symlink("/dev/zero", writer.sessions_dir / slug / "step-000001")
    s = with_deadline(lambda: load_session(writer.sessions_dir / slug))
    assert s.steps[0].kind == "unreadable" and "special file" in s.steps[0].error


def test_step_directory_aborts_the_load(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("a"))
    (writer.sessions_dir / slug / "step-000002").mkdir()
    s = load_session(writer.sessions_dir / slug)
    assert s.steps[1].kind == "unreadable" and "directory" in s.steps[1].error
    assert s.load_status == "error" and s.replay_indices == []
    assert any(p.code == "unreadable_step" for p in s.problems)


def test_symlinked_step_file_is_followed_like_the_daemon(writer: DaemonWriter, tmp_path: Path) -> None:
    slug = writer.create_session("Crab", "user")
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"message":{"role":"user","content":[{"type":"text","text":"from outside"}]}}')
    os.symlink(outside, writer.sessions_dir / slug / "step-000001")
    os.symlink(tmp_path / "missing", writer.sessions_dir / slug / "step-000002")
    s = load_session(writer.sessions_dir / slug)
    assert s.steps[0].kind == "entry"  # fs::read follows symlinks
    assert s.steps[1].kind == "unreadable"  # a dangling link fails the daemon's read
    assert s.load_status == "error"


def test_symlinked_session_dir_outside_the_root_is_shown_but_unlisted(writer: DaemonWriter, tmp_path: Path) -> None:
    elsewhere = DaemonWriter(tmp_path / "elsewhere")
    other = elsewhere.create_session("Crab", "guest")
    elsewhere.append(other, entry("hello"))
    os.symlink(elsewhere.sessions_dir / other, writer.sessions_dir / "crab_guest_1")
    store = Store.open(writer.root)
    entries = store.session_entries()
    assert [e.slug for e in entries] == ["crab_guest_1"] and entries[0].is_symlink
    s = store.load_session("crab_guest_1")
    assert s.load_status == "ok" and not s.listed  # list_sessions skips symlinks; load follows them
    assert any(p.code == "session_unlisted" for p in s.problems)
    # find_latest_session requires a real directory too
    assert store.latest("Crab", "guest") is None


def test_non_utf8_names_are_passed_over_and_output_stays_valid(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("a"))
    d = os.fsencode(writer.sessions_dir / slug)
    with open(os.path.join(d, b"step-\xff\xfe"), "wb") as f:
        f.write(b"garbage")
    bad_session = os.path.join(os.fsencode(writer.sessions_dir), b"crab_\xffuser_1")
    os.mkdir(bad_session)
    s = load_session(writer.sessions_dir / slug)
    assert [x.name for x in s.steps] == ["step-000001"]  # the daemon skips names that are not UTF-8
    assert s.next_step == 2
    r = run_cli("ls", str(writer.root), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    bad = [x for x in rows if x["slug"] != slug]
    assert len(bad) == 1 and bad[0]["listed"] is False
    r = run_cli("ls", str(writer.root))
    assert r.returncode == 0 and "Traceback" not in r.stderr
    r = run_cli("check", str(writer.root), "--json")
    assert r.returncode in (0, 1) and json.loads(r.stdout)["sessions"]


def test_permission_denied_step_is_unreadable() -> None:
    """A step nobody may read: unreadable, and the whole load fails.

    As root, permission bits deny nothing, so the check runs in a child
    process that first drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from
    its bounding set (what ``setpriv --bounding-set`` does): after exec it
    is root without the power to ignore file modes.
    """
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="crabview-perm-"))
    try:
        base.chmod(0o755)
        w = DaemonWriter(base / "root")
        slug = w.create_session("Crab", "user")
        w.append(slug, entry("public"))
        secret = w.append(slug, entry("secret"))
        for p in [base / "root", w.sessions_dir, w.sessions_dir / slug]:
            p.chmod(0o755)
        for p in (w.sessions_dir / slug).iterdir():
            p.chmod(0o644)
        secret.chmod(0)
        code = (
            "import json; from crabview.store.session import load_session; "
            f"s = load_session({str(w.sessions_dir / slug)!r}); "
            "print(json.dumps([[x.name, x.kind, x.error] for x in s.steps] + [s.load_status]))"
        )
        pre = None
        if os.geteuid() == 0:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)

            def pre() -> None:
                for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
                    libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=pre, env=env, timeout=30, cwd="/")
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert got[0][1] == "entry"
        assert got[1][1] == "unreadable" and "ermission denied" in got[1][2]
        assert got[-1] == "error"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_unreadable_root_is_a_clear_message(tmp_path: Path) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("x")
    for args in (["ls", str(f)], ["check", str(f)], ["show", "x", "--root", str(tmp_path / "nope")], ["tail", str(tmp_path / "nope")]):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("crabview: ") and "Traceback" not in r.stderr


def test_many_sessions_in_one_root(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root", atomic=False)
    for k in range(3000):
        w.create_session(f"a{k % 5}", f"u{k}")
    r = run_cli("ls", str(w.root), "--json", "--quick", timeout=120)
    assert r.returncode == 0
    rows = json.loads(r.stdout)
    assert len(rows) == 3000 and all(x["listed"] for x in rows)
    # the latest of each pair is marked, exactly once per pair
    assert sum(x["latest"] for x in rows) == 3000
