"""Defects found by driving crabview as a user would (tmux at 80x24 … 160x48)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from tui_support import SIZE, build_fixed_demo, fixed_app, loaded, region_text, screen_text, wait_for


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixed_demo(tmp_path_factory.mktemp("user") / "store")


def _key(ch: str) -> events.Key:
    names = {"/": "slash", " ": "space", "-": "minus", ":": "colon", "\r": "enter"}
    return events.Key(names.get(ch, ch), None if ch == "\r" else ch)


@pytest.mark.parametrize("pane", ["timeline", "detail"])
@pytest.mark.parametrize("query", ["df -h", "fix", "rbm", "re:disk|build"])
async def test_search_typed_at_paste_speed_lands_in_the_box(demo_root: Path, query: str, pane: str) -> None:
    """`/` then a query and Enter queued before the first is handled: the whole query is searched.

    Seen in tmux: `send-keys "/df -h" Enter` left the box holding the previous
    query while `f` toggled follow and the other letters ran as actions.
    """
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        if pane == "timeline":
            app.timeline.focus()
        else:
            await pilot.press("tab")  # the detail's tabs
        await pilot.pause()
        assert app.focused is not None and (app.focused is app.timeline) == (pane == "timeline")
        mode = app.detail.mode
        for ch in "/" + query + "\r":
            app.post_message(_key(ch))
        await wait_for(pilot, lambda: app.search_query == query)
        await pilot.pause(0.1)
        assert app.search_query == query
        assert not app.query_one("#search", Input).display  # Enter closed the box
        assert app.detail.mode == mode  # no letter ran as an action (r raw, b bytes, m mark)
        assert not app.timeline.marks


async def test_search_retyped_at_paste_speed_replaces_the_old_query(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.timeline.focus()
        await pilot.press("slash", *"shell", "enter")
        await wait_for(pilot, lambda: app.search_query == "shell")
        await pilot.pause()
        for ch in "/disk\r":
            app.post_message(_key(ch))
        await wait_for(pilot, lambda: app.search_query != "shell", timeout=3)
        assert app.search_query == "disk"



async def test_goto_step_typed_at_paste_speed_jumps_there(demo_root: Path) -> None:
    """`:12⏎` queued at once: the cursor lands on step 12 (the digits were lost, Enter closed nothing)."""
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        app.timeline.focus()
        await pilot.pause()
        for ch in ":12\r":
            app.post_message(_key(ch))
        await wait_for(pilot, lambda: app._current_name() == "step-000012", timeout=3)
        await pilot.pause(0.1)
        assert len(app.screen_stack) == 1  # the prompt is closed
        assert app.detail.mode == "decoded"
        assert "step-000012" in region_text(app, app.detail)


async def test_keys_go_back_to_the_timeline_once_it_is_focused_again(demo_root: Path) -> None:
    """`/`, then a click (focus) back on the timeline: j moves the cursor again, not into the box."""
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        app.timeline.focus()
        await pilot.press("g", "slash")
        await pilot.pause()
        app.timeline.focus()
        await pilot.pause()
        await pilot.press("j", "j")
        await pilot.pause()
        assert app.query_one("#search", Input).value == ""
        assert app._current_name() == "step-000002"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_zoom_fills_the_screen(demo_root: Path, size: tuple[int, int]) -> None:
    """`z` shows the detail on the whole screen, not its usual 40% between hatching."""
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, "crab_user_1")
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is app.detail
        lines = screen_text(app).splitlines()
        assert not [line for line in lines if "╱" in line]
        assert app.detail.region.height >= size[1] - 2  # all but the footer


async def test_after_a_paste_speed_search_slash_selects_the_old_query(demo_root: Path) -> None:
    """Typed after a pasted search, `/` still selects the old query: Backspace clears it, a letter replaces it."""
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.timeline.focus()
        await pilot.pause()
        for ch in "/disk\r":
            app.post_message(_key(ch))
        await wait_for(pilot, lambda: app.search_query == "disk")
        await pilot.pause(0.2)
        await pilot.press("slash")
        await pilot.pause(0.2)
        await pilot.press("backspace")
        await pilot.pause(0.1)
        assert app.query_one("#search", Input).value == ""
        await pilot.press("escape")
        await pilot.press("slash")
        await pilot.pause(0.2)
        await pilot.press("x")
        await pilot.pause(0.1)
        assert app.query_one("#search", Input).value == "x"


async def test_a_store_that_comes_back_does_not_mark_its_sessions_live(tmp_path: Path) -> None:
    """mv ROOT away and back: nothing was written, so no ◉ "written in the last seconds" on every session."""
    from crabview.demo import DaemonWriter
    from crabview.store import models as m
    from crabview.tui.widgets.sessions import SessionsPane

    root = tmp_path / "root"
    w = DaemonWriter(root)
    slugs = [w.create_session("Crab", f"u{k}", f"quiet {k}") for k in range(3)]
    for s in slugs:
        w.append(s, m.HistoryEntry(message=m.Message("user", [m.TextBlock("old news")])))
    app = fixed_app(root, watch=True, select=slugs[0])
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slugs[0])
        await wait_for(pilot, lambda: app.watcher is not None and (getattr(app.watcher, "ready", None) is None or app.watcher.ready.is_set()))
        pane = app.query_one(SessionsPane)
        assert "◉" not in region_text(app, pane)
        root.rename(tmp_path / "parked")
        await wait_for(pilot, lambda: app.store_gone or "STORE GONE" in screen_text(app), timeout=10)
        (tmp_path / "parked").rename(root)
        await wait_for(pilot, lambda: "STORE BACK" in screen_text(app) or "STORE REPLACED" in screen_text(app), timeout=10)
        await wait_for(pilot, lambda: "quiet 2" in region_text(app, pane), timeout=10)
        await pilot.pause(0.3)
        assert not [s for s in slugs if app.is_live(s)]
        assert "◉" not in region_text(app, pane)


@pytest.mark.needs_tmux
def test_pasted_search_and_goto_in_a_real_terminal(tmp_path: Path) -> None:
    """tmux, at 80x24, 100x30 and 160x48: `/df -h⏎` and `:12⏎` sent in one go land whole."""
    import os
    import re
    import subprocess
    import sys
    import time

    sock = f"crabview-user-{os.getpid()}"  # a server of our own: nobody else's kill-server reaches it
    store = build_fixed_demo(tmp_path / "store")

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=True).stdout

    def screen_until(pred, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = tmux("capture-pane", "-p", "-t", "u")
            if pred(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never matched; last capture:\n{text}")
            time.sleep(0.1)

    env = {**os.environ, "TERM": "xterm-256color"}
    cmd = f"{sys.executable} -m crabview {store}; sleep 30"
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "u", "-x", "160", "-y", "48", cmd], check=True, env=env)
    try:
        screen_until(lambda t: "step-000073" in t and "watch: inotify" in t)
        for w, h in ((80, 24), (100, 30), (160, 48)):
            tmux("resize-window", "-t", "u", "-x", str(w), "-y", str(h))
            tmux("send-keys", "-t", "u", ":12", "Enter")
            screen_until(lambda t: "step-000012" in t)
            tmux("send-keys", "-t", "u", "/df -h", "Enter")
            text = screen_until(lambda t: "/df -h:" in t and "searching" not in t)
            assert re.search(r"/df -h: (\d+/\d+|\d+ match)", text), text  # the whole query, searched, counted
            tmux("send-keys", "-t", "u", "Escape")
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


async def test_search_position_is_on_the_status_line_at_80_columns(demo_root: Path) -> None:
    """At 80x24 the status line was cut before the search part ("… (2 hidden from the daemon)  /di…")."""
    from textual.widgets import Static

    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "crab_user_1")
        await pilot.press("slash", *"disk", "enter")
        await wait_for(pilot, lambda: app.search_query == "disk" and "searching" not in app.search.status(app.timeline.cursor))
        await pilot.pause(0.2)
        line = region_text(app, app.query_one("#status", Static))
        want = f"/disk: {app.search.status(app.timeline.cursor)}"
        assert "/" in want and want in line, line
