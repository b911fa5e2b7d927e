"""Live behaviour: steps written by a daemon-like writer appear without reload."""

from __future__ import annotations

import shutil
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.tui.widgets.sessions import SessionsPane
from tui_support import SIZE, fixed_app, loaded, see, wait_for


def _entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


async def test_appended_step_appears_and_follow_keeps_it_in_view(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user", "live one")
    for k in range(40):
        writer.append(slug, _entry(f"old step {k}"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: app.watcher_mode == "inotify" or app.watcher_mode == "poll")
        tl = app.timeline
        assert tl.follow and tl.cursor == 40
        path = writer.append(slug, _entry("brand new step"))
        await wait_for(pilot, lambda: tl.row_count == 42 and "brand new step" in tl.row_text(41))
        assert app.session is not None and app.session.index_of(path.name) == 40  # no reload: same Session object
        assert tl.cursor == 41  # follow mode moved to the newest row
        await see(pilot, "brand new step")  # and it is scrolled into view
        # a compaction lands: the divider appears, earlier rows become "not replayed"
        writer.compact(slug, "summary of the live session")
        await wait_for(pilot, lambda: tl.row_count == 43 and "replay starts here" in tl.row_text(42))
        assert "not replayed" in tl.row_text(1)
        await see(pilot, "in memory.db")


async def test_cursor_is_kept_when_not_following(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    for k in range(30):
        writer.append(slug, _entry(f"step {k}"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        tl = app.timeline
        await pilot.press("g")
        await pilot.press("down", "down")
        assert tl.cursor == 2 and not tl.follow
        for k in range(3):
            writer.append(slug, _entry(f"new {k}"))
        await wait_for(pilot, lambda: tl.row_count == 34)
        assert tl.cursor == 2 and not tl.follow
        assert int(tl.scroll_offset.y) == 0
        # f turns follow back on and jumps to the end
        await pilot.press("f")
        assert tl.follow and tl.cursor == 33
        await pilot.press("f")
        assert not tl.follow


async def test_corrupt_and_tmp_steps_arrive_live(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, _entry("hello"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        tl = app.timeline
        writer.append_raw(slug, b'{"message": {"role": "user", "content": [')
        await wait_for(pilot, lambda: tl.row_count == 3 and "skipped by daemon" in tl.row_text(2))
        writer.leave_tmp(slug, b'{"message":{"role":"user","content":[{"type":"text","text":"x"}]}}', whole=True)
        # reported once the tmp outlives the watcher's grace period
        await wait_for(pilot, lambda: tl.row_count == 4 and "leftover tmp" in tl.row_text(3), timeout=5)


async def test_sessions_appear_and_vanish_live(writer: DaemonWriter) -> None:
    first = writer.create_session("Crab", "user", "first")
    writer.append(first, _entry("hi"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, first)
        pane = app.query_one(SessionsPane)
        assert pane.slugs == [first]
        other = writer.create_session("bot", "tg:7", "a new one")
        writer.append(other, _entry("yo"))
        await wait_for(pilot, lambda: other in pane.slugs)
        await see(pilot, "a new one", "bot / tg-7")
        assert app.is_live(other)
        shutil.rmtree(writer.sessions_dir / other)
        await wait_for(pilot, lambda: other not in pane.slugs)
        # deleting the selected session clears the timeline
        shutil.rmtree(writer.sessions_dir / first)
        await wait_for(pilot, lambda: app.model is None)
        await see(pilot, "was deleted")


async def test_live_demo_writer_drives_the_app(tmp_path: Path) -> None:
    from crabview.demo import build_demo
    from crabview.live_demo import LiveDemoWriter

    root = build_demo(tmp_path / "demo")
    lw = LiveDemoWriter(root, delay=0.02)
    assert lw.slug == "crab_user_2"
    app = fixed_app(root, watch=True, live_writer=lw)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_2")
        assert lw.running
        tl = app.timeline
        # a few turns, a compaction with its archive, a torn step
        await wait_for(pilot, lambda: any("replay starts here" in tl.row_text(r) and "in memory.db" in tl.row_text(r) for r in range(tl.row_count)), timeout=20)
        await wait_for(pilot, lambda: any("skipped by daemon" in tl.row_text(r) for r in range(tl.row_count)), timeout=20)
        assert lw.error is None
    assert not lw.running  # stopped with the app
    # the demo's own archives survived the writer's memory.db rewrites
    from crabview.store.memory import load_memory

    names = {e.name for e in load_memory(root / "memory.db").entries}
    assert {"crab-user-1-1", "crab-user-1-2", "crab-user-2-1"} <= names


async def test_deleting_the_whole_store_says_so(writer: DaemonWriter) -> None:
    first = writer.create_session("Crab", "user", "first")
    writer.append(first, _entry("hi"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, first)
        shutil.rmtree(writer.root)
        await see(pilot, "STORE GONE", timeout=10)  # first on the status line
        assert app.store_gone
        assert any("the store is gone" in n.message for n in app._notifications)


# --- issue 11: the store replaced, the watch budget, steps rewritten in place ------------


def _watching(app) -> bool:
    w = app.watcher
    if w is None:
        return False
    ready = getattr(w, "ready", None)
    return ready is None or ready.is_set()


def _status(app) -> str:
    from textual.widgets import Static

    from tui_support import region_text

    return region_text(app, app.query_one("#status", Static))


async def test_a_replaced_root_is_said_and_its_steps_are_shown(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user", "the old store")
    w.append(slug, _entry("old store step"))
    app = fixed_app(root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: _watching(app))
        root.rename(tmp_path / "root.old")  # mv ROOT ROOT.old; mkdir ROOT; a daemon writes
        root.mkdir()
        w2 = DaemonWriter(root)
        new = w2.create_session("Crab", "user", "the new store")
        assert new == slug
        for k in range(3):
            w2.append(new, _entry(f"new store step {k}"))
        await wait_for(pilot, lambda: "STORE REPLACED" in _status(app) or "STORE GONE" in _status(app), timeout=10)
        tl = app.timeline
        await wait_for(pilot, lambda: app.model is not None and tl.row_count == 4 and "new store step 2" in tl.row_text(3), timeout=10)
        assert "old store step" not in "".join(tl.row_text(r) for r in range(tl.row_count))
        await see(pilot, "the new store")
        assert "STORE REPLACED" in _status(app)
        assert any("replaced" in n.message for n in app._notifications)


async def test_a_root_moved_away_says_gone_then_back(tmp_path: Path) -> None:
    root = tmp_path / "root"
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user", "wanderer")
    w.append(slug, _entry("a step"))
    app = fixed_app(root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: _watching(app))
        root.rename(tmp_path / "parked")
        await wait_for(pilot, lambda: "STORE GONE" in _status(app), timeout=10)
        (tmp_path / "parked").rename(root)
        await wait_for(pilot, lambda: "STORE BACK" in _status(app), timeout=10)
        await loaded(pilot, slug)
        w.append(slug, _entry("after the return"))
        tl = app.timeline
        await wait_for(pilot, lambda: tl.row_count == 3 and "after the return" in tl.row_text(2))


async def test_watch_budget_is_on_the_status_line(writer: DaemonWriter, monkeypatch) -> None:
    monkeypatch.setenv("CRABVIEW_MAX_WATCHES", "3")  # root, sessions/, one session
    slugs = [writer.create_session("Crab", f"u{k}") for k in range(5)]
    for s in slugs:
        writer.append(s, _entry(f"in {s}"))
    app = fixed_app(writer.root, watch=True, select=slugs[-1])
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slugs[-1])
        await wait_for(pilot, lambda: "inotify + poll (4 dirs polled: watch limit)" in _status(app), timeout=10)
        # a polled session still goes live
        writer.append(slugs[-1], _entry("arrives by polling"))
        tl = app.timeline
        await wait_for(pilot, lambda: tl.row_count == 3 and "arrives by polling" in tl.row_text(2))


async def test_a_step_rewritten_in_place_updates_its_row_and_is_a_problem(writer: DaemonWriter) -> None:
    from crabview.demo import encode

    slug = writer.create_session("Crab", "user")
    writer.append(slug, _entry("first"))
    p = writer.append(slug, _entry("the original words"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: _watching(app))
        tl = app.timeline
        assert "the original words" in tl.row_text(2)
        with open(p, "r+b") as f:
            f.write(encode(_entry("words changed in place")))
            f.truncate()
        await wait_for(pilot, lambda: "words changed in place" in tl.row_text(2))
        assert tl.row_count == 3
        s = app.session
        assert s is not None
        assert [(pr.code, pr.file, pr.severity) for pr in s.problems] == [("step_rewritten", p.name, "warning")]
        await wait_for(pilot, lambda: app.stats.get(slug) is not None and app.stats[slug].problems == 1)
        await see(pilot, "⚠ 1 warning")


async def test_status_says_inotify_once_the_watches_are_up(writer: DaemonWriter) -> None:
    # the mode is said after the watches are added, not before (it read
    # "watch: poll" for as long as nothing changed)
    slug = writer.create_session("Crab", "user")
    writer.append(slug, _entry("one"))
    app = fixed_app(writer.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: "watch: inotify" in _status(app), timeout=10)
        assert "watch: poll" not in _status(app)
