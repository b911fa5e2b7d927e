"""What users reach for: meta row, store-wide problems, go to, bookmarks, copy, pager, zoom, sort, chart, new-below."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.tui.screens import ListPicker, ProblemsScreen, TokenChart
from crabview.tui.widgets.sessions import SessionList, SessionsPane
from tui_support import SIZE, build_fixed_demo, fixed_app, loaded, region_text, screen_text, see, wait_for


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixed_demo(tmp_path_factory.mktemp("actions") / "demo")


async def test_bad_meta_is_a_row_reachable_with_e_with_reason_byte_and_bytes(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_ops_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_ops_1")
        tl = app.timeline
        assert tl.cursor == tl.row_count - 1
        await pilot.press("e")  # the meta is this session's only problem: e goes there
        await loaded(pilot)
        assert tl.cursor == 0 and tl.current_step() == -2
        row = tl.row_text(0)
        assert "meta" in row and "corrupt (byte" in row and "1 error" in row
        offset = app.model.meta_offset
        assert offset is not None
        text = await see(pilot, "The meta does not decode", f"error at byte {offset}", "meta_corrupt")
        assert "no problems in this session" not in text
        await pilot.press("b")
        await see(pilot, "salvage — NOT what the daemon", f"decoder stops at byte {offset}")


async def test_store_wide_problems_view_lists_every_problem_and_jumps(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen), timeout=15)
        screen = app.screen
        total = len(app.store.store_problems()) + sum(len(s.problems) for s in app.store.iter_sessions())
        assert len(screen.problems) == total
        sev = [p.severity for p in screen.problems]
        assert sev == sorted(sev, key=["error", "warning", "info"].index)  # worst first
        text = await see(pilot, "✖ error", "⚠ warning", "ℹ info", "lenient_decode")
        having = len({p.slug for s in app.store.iter_sessions() for p in s.problems})
        assert having < 6 and f"{total} problems in {having} sessions (6 checked)" in text  # those that have one, of those looked at
        # jump to the corrupt meta: the session opens on its meta row
        k = next(i for i, p in enumerate(screen.problems) if p.code == "meta_corrupt")
        screen.query_one("#problems-list").highlighted = k
        await pilot.press("enter")
        await loaded(pilot, "crab_ops_1")
        assert app.timeline.cursor == 0


async def test_goto_step_bookmarks_and_list(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        tl = app.timeline
        await pilot.press("colon", *"12", "enter")
        await loaded(pilot)
        assert app.model.steps[tl.current_step()].name == "step-000012"
        await pilot.press("m")
        assert "▸" in tl.row_text(tl.cursor)
        await pilot.press("colon", *"30", "enter", "m", "G")
        await loaded(pilot)
        await pilot.press("apostrophe")
        await loaded(pilot)
        assert app.model.steps[tl.current_step()].name == "step-000012"  # wraps to the first mark
        await pilot.press("apostrophe")
        await loaded(pilot)
        assert app.model.steps[tl.current_step()].name == "step-000030"
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ListPicker))
        await see(pilot, "step-000012", "step-000030")
        await pilot.press("enter")
        await loaded(pilot)
        assert app.model.steps[tl.current_step()].name == "step-000012"


async def test_copy_json_text_path(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_2")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_2")
        i = app.timeline.current_step()
        st = app.model.steps[i]
        path = app.model.session.path / st.name
        await pilot.press("y")
        assert app.clipboard == path.read_text()
        assert json.loads(app.clipboard)  # the file's JSON
        await pilot.press("ctrl+y")
        assert app.clipboard == str(path)
        await pilot.press("Y")
        assert app.clipboard and app.clipboard != path.read_text()
        assert any("copied the step's text" in n.message for n in app._notifications)


async def test_open_in_pager_suspends_and_resumes(demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "paged.txt"
    pager = tmp_path / "pager.py"
    pager.write_text(f"import shutil, sys\nshutil.copy(sys.argv[1], {str(out)!r})\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {pager}")
    app = fixed_app(demo_root, select="crab_user_2")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_2")
        suspended = []
        monkeypatch.setattr(app, "suspend", lambda: suspended.append(1) or nullcontext())
        await pilot.press("o")
        await wait_for(pilot, lambda: out.exists())
        assert suspended == [1]
        i = app.timeline.current_step()
        from crabview.render.text import step_text

        assert out.read_text() == step_text(app.model.steps[i], app.model.tools)  # the step's text, as shown
        # headless Textual cannot suspend: a notice, no traceback
        monkeypatch.undo()
        await pilot.press("O")
        await wait_for(pilot, lambda: any("cannot open $EDITOR" in n.message for n in app._notifications))


async def test_zoom_detail_and_hide_sessions(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is app.detail
        assert "crab / user" not in screen_text(app)  # the sessions pane is not drawn
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None
        await pilot.press("backslash")
        await pilot.pause()
        assert not app.query_one(SessionsPane).display
        await pilot.press("backslash")
        await pilot.pause()
        assert app.query_one(SessionsPane).display


async def test_sort_and_state_filter(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        await wait_for(pilot, lambda: len(app.stats) == len(app.summaries))
        pane = app.query_one(SessionsPane)
        app.query_one(SessionList).focus()
        await pilot.press("S")  # errors
        assert pane.state_mode == "errors"
        assert set(pane.slugs) == {"coder_delegate-42_1", "crab_ops_1", "crab_ops_2", "researcher_tg-12345_1"}
        await pilot.press("S", "S")  # hidden
        assert set(pane.slugs) == {"crab_ops_1", "crab_ops_2"}
        await pilot.press("S", "S")  # back to all
        await pilot.press("s", "s")  # problems, worst first
        assert pane.sort_mode == "problems"
        assert pane.slugs[0] == "researcher_tg-12345_1" and pane.slugs[-1] in ("crab_user_1", "crab_user_2")
        await see(pilot, "sorted by problems")


async def test_token_chart_has_scale_and_compact_markers(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenChart))
        u = app.session.usage_totals()
        text = await see(pilot, f"total {u['total_tokens']:,} tokens over {u['turns']} turns", "═ 2 compacts", "┤")
        assert "═" in text.split("└", 1)[1].splitlines()[0]  # markers on the axis


async def test_new_rows_below_marker_when_not_following(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "live")
    for k in range(5):
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"old {k}")])))
    app = fixed_app(w.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: app.watcher_mode in ("inotify", "poll"))
        await pilot.press("g")
        for k in range(3):
            w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"new {k}")])))
        await see(pilot, "↓ 3 new rows below", timeout=10)
        await pilot.press("G")
        await wait_for(pilot, lambda: "new rows below" not in screen_text(app))


async def test_e_stops_on_errors_and_warnings_not_on_info(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        tl = app.timeline
        lenient = [r for r in range(tl.row_count) if "lenient" in tl.row_text(r)]
        assert lenient  # the demo has one info-only step
        seen = set()
        await pilot.press("g")
        for _ in range(12):
            await pilot.press("e")
            seen.add(tl.cursor)
        assert seen and not (seen & set(lenient))
        assert any("skipped" in tl.row_text(r) for r in seen) and any("tmp" in tl.row_text(r) for r in seen)
