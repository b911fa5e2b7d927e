"""Live: the store's and the steps' identity (issue 11, items 1, 2 and tail -n).

A follower never loses or repeats a step when the root or sessions/ is
replaced, moved away or comes back, or when a session directory goes away
and comes back. Real inotify; ``crabview tail -f --json`` runs as its own
process, as a user runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store import watch
from support.follow import Collector, Tail


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def files(t: Tail, slug: str | None = None) -> list[str]:
    return [d["file"] for d in t.steps(slug)]


def test_root_replaced_is_said_and_every_step_of_the_new_store_is_printed_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    old = w.create_session("Crab", "user")
    w.append(old, entry("in the old store"))
    with Tail([str(root), "-n", "0", "-f", "--json"]) as t:
        os.rename(root, tmp_path / "root.old")  # mv ROOT ROOT.old; mkdir ROOT; a daemon starts afresh
        root.mkdir()
        w2 = DaemonWriter(root)
        slug = w2.create_session("Crab", "user")
        assert slug == old  # the same slug and step names as in the old store
        names = [w2.append(slug, entry(f"new store {i}")).name for i in range(12)]
        t.wait(lambda t: len(files(t)) >= 12)
        w2.append(slug, entry("sentinel"))
        t.wait(lambda t: len(files(t)) >= 13)
        assert files(t) == names + ["step-000013"]
        states = [d["state"] for d in t.records() if d.get("event") == "store_replaced"]
        assert states and states[-1] == "replaced"
        t.err.wait_for(lambda ls: any("replaced by another directory" in x for x in ls))  # stderr is its own pipe


def test_root_renamed_away_and_back_reprints_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user")
    for i in range(8):
        w.append(slug, entry(f"before {i}"))
    with Tail([str(root), "-n", "0", "-f", "--json"]) as t:
        live = [w.append(slug, entry(f"live {i}")).name for i in range(3)]
        t.wait(lambda t: len(files(t)) >= 3)
        os.rename(root, tmp_path / "away")
        t.err.wait_for(lambda ls: any("gone" in x or "deleted" in x for x in ls))
        os.rename(tmp_path / "away", root)
        t.err.wait_for(lambda ls: any("is back" in x or "new session" in x for x in ls))
        sentinel = w.append(slug, entry("after the return")).name
        t.wait(lambda t: sentinel in files(t))
        assert files(t) == live + [sentinel]  # nothing printed twice
        states = [d["state"] for d in t.records() if d.get("event") == "store_replaced"]
        assert states == ["gone", "back"]


def test_sessions_dir_replaced_is_said_and_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    a = w.create_session("Crab", "user")
    w.append(a, entry("old"))
    with Tail([str(root), "-n", "0", "-f", "--json"]) as t:
        os.rename(root / "sessions", root / "sessions.old")
        w2 = DaemonWriter(root)  # makes sessions/ again
        b = w2.create_session("coder", "tg:1")
        names = [w2.append(b, entry(f"x{i}")).name for i in range(5)]
        t.wait(lambda t: len(files(t, b)) >= 5)
        assert files(t) == names
        assert [d["state"] for d in t.records() if d.get("event") == "store_replaced"][-1:] == ["replaced"]


def test_session_moved_away_and_back_reprints_nothing_but_a_recreated_one_does(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user")
    with Tail([str(root), "-n", "0", "-f", "--json"]) as t:
        first = [w.append(slug, entry(f"one {i}")).name for i in range(4)]
        t.wait(lambda t: len(files(t)) >= 4)
        os.rename(root / "sessions" / slug, tmp_path / "parked")
        t.err.wait_for(lambda ls: any(f"{slug} was moved away" in x or f"{slug} was deleted" in x for x in ls))
        os.rename(tmp_path / "parked", root / "sessions" / slug)
        more = w.append(slug, entry("after the return")).name
        t.wait(lambda t: more in files(t))
        assert files(t) == first + [more]
        # deleted and created again with new files under the same names: new steps
        shutil.rmtree(root / "sessions" / slug)
        w._counters.pop(slug, None)
        w.create_session("Crab", "user")
        again = [w.append(slug, entry(f"two {i}")).name for i in range(3)]
        assert again == first[:3]
        t.wait(lambda t: len(files(t)) >= 8)
        got = t.steps()
        assert [d["file"] for d in got] == first + [more] + again
        assert [d["value"]["message"]["content"][0]["text"] for d in got[-3:]] == ["two 0", "two 1", "two 2"]


def test_watcher_knows_a_step_by_its_file_not_its_name(writer: DaemonWriter, tmp_path: Path) -> None:
    slug = writer.create_session("Crab", "user")
    names = [writer.append(slug, entry(f"s{i}")).name for i in range(3)]
    sdir = writer.sessions_dir / slug
    with Collector(writer.root) as c:
        os.rename(sdir, tmp_path / "parked")
        c.wait(lambda: any(isinstance(e, watch.SessionRemoved) and getattr(e, "moved", False) for e in c.events))
        os.rename(tmp_path / "parked", sdir)
        c.wait(lambda: any(isinstance(e, watch.SessionAdded) for e in c.events))
        assert c.added(slug) == []  # the same files: not new
        # a copy has the same names, sizes and times, but other inodes: new files
        shutil.copytree(sdir, tmp_path / "copy", copy_function=shutil.copy2)
        shutil.rmtree(sdir)
        os.rename(tmp_path / "copy", sdir)
        c.wait(lambda: len(c.added(slug)) >= 3)
        assert c.added(slug) == names


def test_watcher_says_store_gone_and_back_in_order(writer: DaemonWriter, tmp_path: Path) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, entry("x"))
    with Collector(writer.root) as c:
        os.rename(writer.root, tmp_path / "elsewhere")
        c.wait(lambda: any(isinstance(e, watch.StoreReplaced) for e in c.events))
        os.rename(tmp_path / "elsewhere", writer.root)
        c.wait(lambda: sum(isinstance(e, watch.StoreReplaced) for e in c.events) >= 2)
        states = [e.state for e in c.events if isinstance(e, watch.StoreReplaced)]
        assert states == ["gone", "back"]
        assert c.added(slug) == []
        new = writer.append(slug, entry("y")).name  # watched again after the return
        c.wait(lambda: new in c.added(slug))


def test_tail_n_on_a_root_prints_the_most_recent_steps_by_file_time(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    a = w.create_session("alpha", "user")  # sorts first
    z = w.create_session("zulu", "user")  # sorts last
    for i in range(5):
        w.append(a, entry(f"a{i}"))
        w.append(z, entry(f"z{i}"))
    base = 1_700_000_000
    # zulu's steps are old, alpha's are the newest: by file time, not by name
    for i in range(5):
        os.utime(w.sessions_dir / z / f"step-00000{i + 1}", (base + i, base + i))
        os.utime(w.sessions_dir / a / f"step-00000{i + 1}", (base + 100 + i, base + 100 + i))
    os.utime(w.sessions_dir / z / "step-000005", (base + 102.5, base + 102.5))  # between a's 3rd and 4th
    r = subprocess.run([sys.executable, "-m", "crabview", "tail", str(w.root), "-n", "3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = [(ln.split()[0], ln.split()[2]) for ln in r.stdout.splitlines()]
    assert got == [(z, "step-000005"), (a, "step-000004"), (a, "step-000005")]
    h = subprocess.run([sys.executable, "-m", "crabview", "tail", "--help"], capture_output=True, text=True, timeout=60)
    assert "mtime" in h.stdout


def test_a_step_rewritten_while_its_session_was_away_is_printed_as_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user")
    with Tail([str(root), "-n", "0", "-f", "--json"]) as t:
        names = [w.append(slug, entry(f"one {i}")).name for i in range(3)]
        t.wait(lambda t: len(files(t)) >= 3)
        os.rename(root / "sessions" / slug, tmp_path / "parked")
        t.err.wait_for(lambda ls: any(f"{slug} was moved away" in x or f"{slug} was deleted" in x for x in ls))
        (tmp_path / "parked" / names[1]).write_bytes(b'{"message":{"role":"user","content":[{"type":"text","text":"edited"}]}}')
        os.rename(tmp_path / "parked", root / "sessions" / slug)
        t.wait(lambda t: len(files(t)) >= 4)
        more = w.append(slug, entry("after")).name
        t.wait(lambda t: more in files(t))
        got = t.steps()
        assert [(d["file"], d.get("rewritten", False)) for d in got] == [(n, False) for n in names] + [(names[1], True), (more, False)]
        assert got[3]["value"]["message"]["content"][0]["text"] == "edited"


def test_a_session_that_could_not_be_listed_is_followed_once_it_can(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user")
    names = [w.append(slug, entry(f"s{i}")).name for i in range(2)]
    sdir = w.sessions_dir / slug
    os.chmod(sdir, 0o000)
    try:
        with Tail([str(w.root), "-n", "0", "-f", "--json"], bound_by_permissions=True) as t:
            os.chmod(sdir, 0o755)  # heard as a change of sessions/ (its entry's attributes)
            t.wait(lambda t: files(t) == names)
            more = w.append(slug, entry("later")).name
            t.wait(lambda t: more in files(t))
            assert files(t) == names + [more]
    finally:
        os.chmod(sdir, 0o755)
