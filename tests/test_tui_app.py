"""Pilot tests of the browser: panes, marks, navigation, detail views, untrusted text."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Input, Markdown

from crabview.tui.actions import ACTIONS
from crabview.tui.screens import HelpScreen, SearchResults
from crabview.tui.widgets.sessions import SessionList, SessionsPane
from crabview.tui.widgets.timeline import Timeline
from tui_support import SIZE, build_fixed_demo, fixed_app, loaded, region_text, rows, screen_text, see, wait_for


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # read-only use: the app never writes, so one store serves every test here
    return build_fixed_demo(tmp_path_factory.mktemp("tui") / "demo")


async def test_sessions_pane_groups_marks_and_filter(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        pane = app.query_one(SessionsPane)
        assert set(pane.slugs) == {
            "coder_delegate-42_1", "crab_ops_1", "crab_ops_2", "crab_user_1", "crab_user_2", "researcher_tg-12345_1",
        }
        # the default selection is the biggest listed session
        assert app.selected == "crab_user_1"
        text = await see(pilot, "crab / user", "researcher / tg-12345")  # grouped by (agent, sender)
        assert "hidden: bad meta" in text and "hidden: no meta" in text  # the daemon's listing hides these
        assert "Outage reply ★" in text  # latest session of the Crab/user pair
        assert "Nightly build triage ★" not in text
        assert "2h ago" in text  # relative to the injected clock
        await wait_for(pilot, lambda: "═2" in screen_text(app))  # compact count badge (stats worker)
        await wait_for(pilot, lambda: "✖4 ⚠1 ℹ1" in screen_text(app))  # problems badges, one per severity
        # filter by typing while the list has focus
        app.query_one(SessionList).focus()
        await pilot.press("slash", "t", "g")  # / enters the filter; t alone is the token chart
        assert app.query_one("#session-filter", Input).value == "tg"
        assert pane.slugs == ["researcher_tg-12345_1"]
        await pilot.press("backspace", "backspace")
        assert len(pane.slugs) == 6


async def test_select_session_with_keyboard_and_mouse(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        app.query_one(SessionList).focus()
        await pilot.press("down")
        await loaded(pilot, "crab_user_2")
        await pilot.press("enter")
        assert app.focused is app.timeline
        # mouse: click a row in the timeline
        tl = app.timeline
        await pilot.click(Timeline, offset=(20, 1))
        await wait_for(pilot, lambda: tl.cursor == 1 + int(tl.scroll_offset.y))
        assert not tl.follow


async def test_compacted_timeline_dividers_and_dimming(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        r = rows(app)
        s = app.session
        assert s is not None and len(r) == len(s.steps)  # one row per step file, no gaps here
        dividers = [t for t in r if "══ compact" in t]
        assert len(dividers) == 2
        assert "archive crab-user-1-1" in dividers[0] and "in memory.db" in dividers[0] and "not replayed" in dividers[0]
        assert "archive crab-user-1-2" in dividers[1] and "replay starts here" in dividers[1]
        start = s.replay_start
        assert all("not replayed" in t for t in r[:start])
        assert not any("not replayed" in t for t in r[start + 1 :])
        # header: token totals from done events
        u = s.usage_totals()
        await see(pilot, f"tokens {u['total_tokens']:,}")


async def test_corrupt_session_rows_and_literal_markup(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        r = rows(app)
        bad = [t for t in r if "✗" in t and "tmp" not in t]
        assert len(bad) == 3 and all("skipped by daemon" in t and "unparsable" in t for t in bad)
        assert not any("unparsable, skipped:" in t for t in bad)  # the kind once (role column), then the reason
        assert any("legacy compact “Token usage”" in t and "inline summary, no archive" in t for t in r)
        tmp = [t for t in r if "leftover tmp" in t]
        assert len(tmp) == 1 and " tmp " in tmp[0]
        hostile = next(t for t in r if "not markup" in t)
        assert "[bold red]not markup[/]" in hostile  # markup shows as typed
        assert "␛[31m" in hostile and "␇" in hostile and "⇥" in hostile  # control chars made visible
        assert "\x1b" not in "".join(r)


async def test_gap_missing_archive_and_problem_navigation(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="coder_delegate-42_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "coder_delegate-42_1")
        r = rows(app)
        assert any("… 2 missing …" in t for t in r)
        assert any("MISSING from memory.db" in t and "replay starts here" in t for t in r)
        tl = app.timeline
        await pilot.press("g")
        assert tl.cursor == 0 and not tl.follow
        seen = []
        for _ in range(4):
            await pilot.press("e")
            seen.append(tl.row_text(tl.cursor))
        assert any("MISSING" in t for t in seen) and any("leftover tmp" in t for t in seen)
        await pilot.press("E")
        assert tl.cursor in app.model.nav_rows("problem")
        await pilot.press("G")
        assert tl.cursor == tl.row_count - 1 and tl.follow
        await pilot.press("C")
        assert "══ compact" in tl.row_text(tl.cursor)
        await pilot.press("c")
        assert "══ compact" in tl.row_text(tl.cursor)  # wraps to the only compact


async def test_search_next_prev(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        await pilot.press("slash")
        assert app.focused is app.query_one("#search", Input)
        await pilot.press(*"arm64", "enter")
        await wait_for(pilot, lambda: app.search_rows)
        tl = app.timeline
        assert tl.cursor in app.search_rows and "arm64" in tl.row_text(tl.cursor)
        first = tl.cursor
        n = len(app.search_rows)
        await see(pilot, f"/arm64: 1/{n}")  # the position among the matches
        await pilot.press("n")
        assert tl.cursor != first and tl.cursor in app.search_rows
        await see(pilot, f"/arm64: 2/{n}")
        await pilot.press("N")
        assert tl.cursor == first
        await see(pilot, f"/arm64: 1/{n}")
        await pilot.press("N")  # before the first: wraps to the last, and says so
        await see(pilot, f"/arm64: {n}/{n}")
        assert any("search wrapped to the bottom" in x.message for x in app._notifications)


async def test_detail_decoded_raw_and_bytes(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        s = app.session
        tl = app.timeline
        # an assistant entry with thinking + tool_use
        i = next(k for k, st in enumerate(s.steps) if k > s.replay_start and st.kind == "entry" and "thinking" in str(st.value))
        tl.move_to_row(app.model.row_of_step[i])
        await loaded(pilot)
        coll = app.detail.query(Collapsible)
        assert len(coll) == 1 and coll.first().collapsed  # thinking folded
        await see(pilot, "→ tool call")
        # the tool result, paired with its call
        tl.move_to_row(app.model.row_of_step[i + 1])
        await loaded(pilot)
        await see(pilot, "← result of", "(called in step-")
        # an assistant answer: Markdown
        tl.move_to_row(app.model.row_of_step[i + 3])
        await loaded(pilot)
        assert app.detail.query(Markdown)
        # raw: pretty JSON
        await pilot.press("r")
        assert app.detail.mode == "raw"
        await see(pilot, '"message": {')
        await pilot.press("r")
        assert app.detail.mode == "decoded"
        # a compact shows its archive from memory.db
        await pilot.press("C")
        await loaded(pilot)
        await see(pilot, "archive content from memory.db")


async def test_bytes_view_of_corrupt_step(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        tl = app.timeline
        await pilot.press("g", "e")
        await loaded(pilot)
        st = app.model.steps[tl.current_step()]
        assert st.kind == "unparsable"
        await pilot.press("b")
        assert app.detail.mode == "bytes"
        await see(pilot, "00000000", "salvage — NOT")
        salv = str(app.detail.query_one("#salvage-body").render())
        assert "salvage — NOT what the daemon sees" in salv and f"decoder stops at byte {st.offset}" in salv
        assert '"role": "assistant"' in salv  # the JSON that parsed before the error
        # the error byte is highlighted in the hex view
        from crabview.store.session import read_file
        from crabview.tui.widgets.detail import hex_view

        await pilot.press("e")  # the next one fails inside the file (the first at its end)
        await loaded(pilot)
        st = app.model.steps[app.timeline.current_step()]
        data, _ = read_file(str(app.store.session_path(app.selected) / st.name))
        assert st.kind == "unparsable" and st.offset < len(data)
        await see(pilot, f"bytes · error at byte {st.offset}")
        hv = hex_view(data, st.offset, 8)
        hot = [hv.plain[sp.start : sp.end] for sp in hv.spans if "on red" in str(sp.style)]
        assert hot[0] == f"{data[st.offset]:02x}" and hot[1] == chr(data[st.offset])


async def test_missing_archive_shows_daemon_placeholder(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="coder_delegate-42_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "coder_delegate-42_1")
        await pilot.press("C")
        await loaded(pilot)
        await see(pilot, "[archived context unavailable: coder-delegate-42-1-lost]")


async def test_actions_table_drives_bindings_footer_help_and_palette(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        keys = {b.key for b in app.BINDINGS}  # type: ignore[union-attr]
        for a in ACTIONS:
            if a.action != "focus_next":
                assert a.key in keys
        footer = (await see(pilot, "Quit")).splitlines()[-1]
        for label in ("Search", "Problem", "Compact", "Raw", "Bytes", "Follow", "Help", "Quit"):
            assert label in footer
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await see(pilot, "crabview keys", "Previous compact boundary")
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        # the command palette lists the same actions
        from crabview.tui.commands import CrabviewCommands

        await pilot.press("ctrl+p")
        await pilot.press(*"next compact")
        await see(pilot, "Next compact boundary")
        await pilot.press("escape")
        assert CrabviewCommands in app.COMMANDS


async def test_search_across_sessions(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.search_all("per model")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchResults))
        await see(pilot, "researcher_tg-12345_1")
        await pilot.press("enter")
        await loaded(pilot, "researcher_tg-12345_1")
        assert "Per model" in app.timeline.row_text(app.timeline.cursor)


async def test_50mb_step_opens_truncated(tmp_path: Path) -> None:
    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "huge")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("small question")])))
    w.append(slug, m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("x" * (50 << 20))])))
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        t0 = time.monotonic()
        await loaded(pilot, slug)
        await see(pilot, "truncated: showing 100,000 of 52,428,800 characters")
        await pilot.press("r")
        await see(pilot, "truncated: showing 200,000 of")
        await pilot.press("b")
        await see(pilot, "bytes; showing 2,048 of them")
        # the UI stayed responsive: moving up is instant
        await pilot.press("up")
        assert app.timeline.cursor == 1  # row 0 is the meta row
        assert time.monotonic() - t0 < 20


async def test_decoded_view_shows_html_looking_text_literally(tmp_path: Path) -> None:
    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "html")
    texts = [
        "<div>hello</div>",
        "text before <b>bold</b> after",
        "<!-- a comment -->",
        "<details><summary>sum</summary>inside</details>",
        "<script>alert(1)</script>",
    ]
    for t in texts:
        w.append(slug, m.HistoryEntry(message=m.Message("assistant", [m.TextBlock(t)])))
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        for k, t in enumerate(texts):
            app.timeline.move_to_row(k + 1)  # row 0 is the meta row
            await loaded(pilot)
            assert app.detail.query(Markdown)  # still rendered as Markdown, with HTML off
            await wait_for(pilot, lambda: t in region_text(app, app.query_one("#decoded-body")))


async def test_footer_keys_act_in_the_sessions_list_other_keys_filter(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        filt = app.query_one("#session-filter", Input)
        lst = app.query_one(SessionList)
        tl = app.timeline
        lst.focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: tl.cursor == 0)
        lst.focus()
        await pilot.press("e")  # next problem, not a filter
        await loaded(pilot)
        assert app.model.steps[tl.current_step()].kind == "unparsable"
        lst.focus()
        await pilot.press("r")
        assert app.detail.mode == "raw"
        await pilot.press("b")
        assert app.detail.mode == "bytes"
        lst.focus()
        await pilot.press("f", "G", "c")
        assert filt.value == "" and not filt.has_focus
        # any other printable key still starts the filter; the box then takes anything
        lst.focus()
        await pilot.press("x", "e", "c")
        assert filt.has_focus and filt.value == "xec"
        from crabview.tui.screens import help_renderable

        assert any("type into the filter" in str(c) for c in help_renderable().columns[1]._cells)


async def test_search_across_sessions_counts_past_the_listed_500(tmp_path: Path) -> None:
    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "many")
    for k in range(520):
        w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"needle {k}")])))
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        app.search_all("needle")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchResults), timeout=20)
        await see(pilot, "520 steps match “needle” across sessions; showing the first 500")
        await pilot.pause(0.3)
        assert "searching every session" not in screen_text(app)  # the notice went with the results
        assert len(app.screen.hits) == 500 and app.screen.total == 520


async def test_80x24_timeline_keeps_a_useful_summary(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_2")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "crab_user_2")
        pane = app.query_one(SessionsPane)
        assert pane.display and pane.size.width <= 26  # shrinks, still there
        tl = app.timeline
        assert tl.size.width >= 50
        # a step row's summary gets at least 25 columns (9 number + 2 mark + 14 role before it)
        assert tl.scrollable_content_region.width - 9 - 2 - 14 >= 25
        text = region_text(app, tl)
        assert any(len(line.rstrip()) > 50 for line in text.splitlines())
        status = region_text(app, app.query_one("#status"))
        assert "session" in status  # the short, important parts come first


async def test_40x12_shows_a_step_row(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_2")
    async with app.run_test(size=(40, 12)) as pilot:
        await loaded(pilot, "crab_user_2")
        assert not app.query_one(SessionsPane).display  # hidden when narrow
        tl = app.timeline
        assert tl.size.width >= 35 and tl.size.height >= 2
        r = tl.cursor
        num = tl.row_text(r).split()[0]
        await wait_for(pilot, lambda: num in region_text(app, tl))
        # widening brings the sessions pane back
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: app.query_one(SessionsPane).display)


async def test_event_name_once_and_singular_counts(demo_root: Path, tmp_path: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        ev = [t for t in rows(app) if "◆" in t]
        assert ev
        for t in ev:
            name = t.split("◆", 1)[1].split()[0]
            assert t.count(name) == 1, t
    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "one")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("only")])))
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await pilot.press("slash", *"only", "enter")
        text = await see(pilot, "1 step ", ": 1/1 ", "1 session ")
        assert "1 steps" not in text and "1 matches" not in text and "1 sessions" not in text
