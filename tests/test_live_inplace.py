"""Live: steps written or rewritten in place (issue 11, item 4).

The daemon always writes tmp + rename; anything else (a hand edit, another
tool, a truncate-and-rewrite) changes bytes that were already read. Such a
step is re-read, printed again marked rewritten, and is a ``step_rewritten``
problem (warning). A partial file that later completes is shown with its
final verdict. Real inotify.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from crabview.demo import DaemonWriter, encode
from crabview.store import models as m
from crabview.store.store import Store
from crabview.store.layout import resolve
from support.follow import Collector, Tail


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def text_of(d: dict) -> str:
    return d["value"]["message"]["content"][0]["text"]


def test_a_step_written_in_place_is_printed_once_with_its_final_verdict(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user")
    data = encode(entry("written in place, slowly"))
    with Tail([str(w.root), "-n", "0", "-f", "--json"]) as t:
        with open(w.sessions_dir / slug / "step-000001", "wb") as f:  # not tmp + rename
            f.write(data[:20])
            f.flush()
            time.sleep(0.3)  # a slow writer: the partial sits there, open
            f.write(data[20:])
        sentinel = w.append(slug, entry("next")).name
        t.wait(lambda t: sentinel in [d["file"] for d in t.steps()])
        got = t.steps()
        assert [(d["file"], d["kind"]) for d in got] == [("step-000001", "entry"), (sentinel, "entry")]
        assert text_of(got[0]) == "written in place, slowly"


def test_a_step_rewritten_after_it_was_printed_is_printed_again_marked(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user")
    with Tail([str(w.root), "-n", "0", "-f", "--json"]) as t:
        p = w.append(slug, entry("first words"))
        t.wait(lambda t: len(t.steps()) == 1)
        with open(p, "r+b") as f:  # rewritten in place, same inode
            f.write(encode(entry("other words")))
            f.truncate()
        t.wait(lambda t: len(t.steps()) == 2)
        with open(p, "wb") as f:  # truncated, then written again
            f.write(b'{"message": {"role": "user", "content": [{"type": "text", "text": "third"}]}}')
        t.wait(lambda t: len(t.steps()) == 3)
        w.append(slug, entry("sentinel"))
        t.wait(lambda t: len(t.steps()) == 4)
        got = t.steps()
        assert [d["file"] for d in got] == [p.name, p.name, p.name, "step-000002"]
        assert [d.get("rewritten", False) for d in got] == [False, True, True, False]
        assert [text_of(d) for d in got] == ["first words", "other words", "third", "sentinel"]


def test_a_rewrite_prints_a_marked_line_in_text_mode(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user")
    p = w.append(slug, entry("original"))
    with Tail([str(w.sessions_dir / slug), "-n", "1", "-f"]) as t:
        t.out.wait_for(lambda ls: len(ls) == 1)
        p.write_bytes(b'{"message": oops')  # rewritten into something the daemon skips
        lines = t.out.wait_for(lambda ls: len(ls) == 2)
        assert lines[1].split()[1] == "step-000001" and "(rewritten:" in lines[1]
        assert lines[0].split()[1] == "step-000001" and "rewritten" not in lines[0]


def test_watcher_reports_a_rewrite_once_and_the_live_path_makes_it_a_problem(writer: DaemonWriter) -> None:
    from crabview.store.live import LiveSessions

    slug = writer.create_session("Crab", "user")
    p = writer.append(slug, entry("before"))
    store = Store(resolve(writer.root))
    live = LiveSessions(store)
    live.adopt(store.load_session(slug))
    with Collector(writer.root) as c:
        with open(p, "r+b") as f:
            f.write(encode(entry("after!")))
            f.truncate()
        c.wait(lambda: c.changed(slug) == [p.name])
        time.sleep(0.3)  # the settle is over: nothing more comes for one rewrite
        assert c.changed(slug) == [p.name] and c.added(slug) == []
        b = live.apply(list(c.events))
    s = live.sessions[slug]
    assert b.updates[slug].rewritten == [p.name]
    assert s.steps[0].value.message.content[0].text == "after!"
    probs = [pr for pr in s.problems if pr.code == "step_rewritten"]
    assert [(pr.file, pr.severity) for pr in probs] == [(p.name, "warning")]


def test_mtime_change_alone_counts_as_a_rewrite(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    p = writer.append(slug, entry("x"))
    with Collector(writer.root) as c:
        os.utime(p, (1_700_000_000, 1_700_000_000))
        c.wait(lambda: c.changed(slug) == [p.name])
