"""Search in the app: one exclusive search, never a stale count or match; live steps are searched too."""

from __future__ import annotations

import re
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.tui.messages import GlobalSearchDone, SearchDone
from crabview.tui.screens import SearchResults
from tui_support import SIZE, fixed_app, loaded, see, wait_for


def entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def store_with(tmp_path: Path, n: int) -> tuple[DaemonWriter, str]:
    w = DaemonWriter(tmp_path / "root", atomic=False)
    slug = w.create_session("Crab", "user", "search")
    for k in range(n):
        w.append(slug, entry(("alpha " if k % 2 else "beta ") + f"row {k}" + (" " + "x" * 6000 if k == n - 1 else "") + (" tail-word" if k == n - 1 else "")))
    return w, slug


async def test_a_new_query_replaces_the_old_and_no_stale_answer_is_shown(tmp_path: Path) -> None:
    w, slug = store_with(tmp_path, 3000)
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        statuses: list[str] = []
        orig = app.update_status

        def spy() -> None:
            orig()
            statuses.append(str(app._main("#status").render()))

        app.update_status = spy  # type: ignore[method-assign]
        await pilot.press("slash", *"alpha", "enter", "slash", *"beta", "enter")  # the second before the first ends
        await wait_for(pilot, lambda: app.search.text == "beta" and not app.search.running, timeout=20)
        want = [i for i, st in enumerate(app.model.steps) if "beta" in (st.value.message.content[0].text)]
        assert app.search.indices == want
        assert app.search.rows == [app.model.row_of_step[i] for i in want]
        # once beta was asked for, no status line showed alpha or a count of its matches
        k = next(j for j, s in enumerate(statuses) if "/beta" in s)
        assert not any("/alpha" in s for s in statuses[k:])
        assert re.search(rf"/beta: \d+/{len(want)} ", statuses[-1])
        assert app.timeline.cursor in app.search.rows
        # a late answer of an older search is dropped
        app.post_message(SearchDone(app.search.gen - 1, "alpha", [0, 1, 2], 0, len(app.model.steps), app.model.version))
        await pilot.pause(0.1)
        assert app.search.indices == want and app.search.text == "beta"


async def test_content_past_2000_characters_is_searched(tmp_path: Path) -> None:
    w, slug = store_with(tmp_path, 20)
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await pilot.press("g", "slash", *"tail-word", "enter")
        await wait_for(pilot, lambda: app.search.rows, timeout=10)
        assert app.model.steps[app.timeline.current_step()].name == "step-000020"
        await see(pilot, "/tail-word: 1/1")


async def test_appended_steps_are_searched_and_the_count_follows(tmp_path: Path) -> None:
    w, slug = store_with(tmp_path, 20)
    app = fixed_app(w.root, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: app.watcher_mode in ("inotify", "poll"))
        await pilot.press("slash", *"needle", "enter")
        await wait_for(pilot, lambda: not app.search.running and app.search.text == "needle")
        assert app.search.rows == []
        for k in range(3):
            w.append(slug, entry(f"a needle {k}"))
        await wait_for(pilot, lambda: len(app.search.rows) == 3 and not app.search.running, timeout=15)
        assert app.search.covered == len(app.model.steps)


async def test_bad_regex_says_so(tmp_path: Path) -> None:
    w, slug = store_with(tmp_path, 5)
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        inp = app.query_one("#search")
        await pilot.press("slash")
        inp.value = "re:("
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("bad regex" in n.message for n in app._notifications))
        await pilot.press("slash")
        inp.value = "re:row [1-9]$"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.search.running and len(app.search.rows) == 3)  # rows 1..3 end their text (row 4 goes on)


async def test_search_all_new_query_cancels_the_old(tmp_path: Path) -> None:
    w, slug = store_with(tmp_path, 400)
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        app.search_all("alpha")
        app.search_all("tail-word")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchResults), timeout=20)
        assert app.screen.query_text == "tail-word" and app.screen.total == 1
        assert app._global_progress is None  # the progress went with the results
        # a late answer of the first search is dropped: no second results screen
        app.post_message(GlobalSearchDone(app._global_gen - 1, "alpha", [(slug, "step-000002", "alpha")], 1))
        await pilot.pause(0.2)
        assert app.screen.query_text == "tail-word" and len(app.screen_stack) == 2


async def test_position_follows_the_cursor(tmp_path: Path) -> None:
    w, slug = store_with(tmp_path, 12)
    app = fixed_app(w.root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, slug)
        await pilot.press("g", "slash", *"alpha", "enter")
        await wait_for(pilot, lambda: app.search.rows and not app.search.running)
        await see(pilot, "/alpha: 1/6")
        await pilot.press("j")  # off the match: the count, not a stale position
        await see(pilot, "/alpha: 6 matches")
        await pilot.press("j")
        await see(pilot, "/alpha: 2/6")
