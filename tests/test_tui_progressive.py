"""The browser shows the end of a session before the rest is read, and says so (issue 13, item 1).

The open is held at each stand-in by a gate, so what the user sees in
between is pinned down: the screen's rows are the end of the load order,
the header says how much is read and that counts are partial, entries say
their replay is pending, and the cursor follows the end. When the rest
arrives the view keeps the step the user was on, on the same screen line,
or keeps following. A newer selection stops the read, and a step written
while the session was listed, before the watcher was up, still shows.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

import crabview.tui.opening as tui_opening
from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.opening import open_progressively
from tui_support import fixed_app, model_screen, screen_text, timeline_screen, wait_for


def _entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def build(root: Path) -> tuple[str, str]:
    """A 121-step session with its last compact at step 61, and a small one."""
    w = DaemonWriter(root, atomic=False)
    big = w.create_session("Crab", "user", "big one")
    for i in range(60):
        w.append(big, _entry(f"early {i}"))
    w.compact(big, "summary")
    for i in range(60):
        w.append(big, _entry(f"late {i}"))
    small = w.create_session("Crab", "other", "small one")
    w.append(small, _entry("hello"))
    return big, small


class Gate:
    """Holds the open after each stand-in until ``release`` (and lets the test write meanwhile)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tail: int = 20, back_batch: int = 16, on_listed=None):
        self.held = threading.Event()
        self.go = threading.Semaphore(0)
        self.stand_ins: list = []
        self.stopped = threading.Event()
        gate = self

        def gated(s, on_partial, on_progress, listed, *a, **k):
            def partial(stand_in):
                on_partial(stand_in)
                gate.stand_ins.append(stand_in.partial)
                gate.held.set()
                gate.go.acquire(timeout=20)
                gate.held.clear()

            def was_listed(names):
                if on_listed is not None:
                    on_listed(s.path)
                listed(names)

            try:
                return open_progressively(s, partial, on_progress, was_listed, tail, back_batch, 1000)
            except BaseException:
                gate.stopped.set()
                raise

        monkeypatch.setattr(tui_opening, "open_progressively", gated)

    def release(self) -> None:
        self.go.release()


def shown_numbers(app) -> list[str]:
    lines, _ = timeline_screen(app)
    return [ln.split()[0] for ln in lines if ln.strip()]


@contextlib.asynccontextmanager
async def reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int] = (120, 30)):
    """The app on the big session of ``build``, held at its first stand-in: (pilot, app, gate, slug)."""
    big, _ = build(tmp_path / "root")
    gate = Gate(monkeypatch)
    app = fixed_app(tmp_path / "root", select=big)
    async with app.run_test(size=size) as pilot:
        await held_at_first_stand_in(pilot, gate)
        yield pilot, app, gate, big


async def held_at_first_stand_in(pilot, gate: Gate) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: gate.held.is_set() and app.model is not None and app.model.partial is not None)
    app.timeline.focus()


async def whole(pilot, gate: Gate) -> None:
    gate.release()
    gate.release()
    await wait_for(pilot, lambda: pilot.app.loading is None and pilot.app.model is not None and pilot.app.model.partial is None)
    await pilot.pause()


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_the_end_shows_first_then_the_whole_session_keeps_following(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (160, 30)) as (pilot, app, gate, big):
        await pilot.pause()
        # the end of the load order, and nothing else: steps 102..121 (meta row pinned first)
        assert [app.model.steps[r.index].name for r in app.model.rows[1:]] == [f"step-{n:06d}" for n in range(102, 122)]
        lines, cursor = timeline_screen(app)
        assert [ln.rstrip() for ln in lines] == [ln.rstrip() for ln in model_screen(app)]
        assert shown_numbers(app)[-1] == "121" and cursor == [max(i for i, ln in enumerate(lines) if ln.strip())]
        text = screen_text(app)
        assert "121 steps · reading… so far " in text and "17% 20 of 121 read · the last 20 shown · the replay start and load verdict not yet known" in text
        assert "replay pending" in text and "not replayed (load fails)" not in text and "missing" not in text
        assert app.timeline.follow
        gate.release()  # read back to the last compact
        await wait_for(pilot, lambda: len(gate.stand_ins) == 2 and gate.held.is_set())
        await wait_for(pilot, lambda: app.model.partial is not None and app.model.partial.boundary_known)
        await pilot.pause()
        assert gate.stand_ins[1].shown == 20 + 3 * 16  # batches back until one held the compact (step 61)
        text = screen_text(app)
        assert "68 of 121 read · the last 68 shown · the load verdict not yet known" in text
        model = app.model
        compact = model.steps[model.boundary_index]
        assert compact.name == "step-000061" and "replay starts here" in app.timeline.row_text(model.row_of_step[model.boundary_index])
        before = model.row_of_step[model.boundary_index - 1]
        assert model.steps[model.boundary_index - 1].name == "step-000060" and app.timeline.row_text(before).rstrip().endswith("not replayed")
        assert shown_numbers(app)[-1] == "121" and app.timeline.follow
        gate.release()
        await wait_for(pilot, lambda: app.loading is None and app.model.partial is None)
        await pilot.pause()
        text = screen_text(app)
        assert "reading" not in text and "replay pending" not in text and "daemon load" not in text
        assert len(app.model.rows) == 1 + 121
        lines, cursor = timeline_screen(app)
        assert [ln.rstrip() for ln in lines] == [ln.rstrip() for ln in model_screen(app)]
        assert shown_numbers(app)[-1] == "121" and app.timeline.follow
        assert app.timeline.cursor == len(app.model.rows) - 1


async def test_the_step_the_user_is_on_stays_on_its_line_when_the_rest_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        app.timeline.focus()
        for _ in range(5):
            await pilot.press("k")
        await pilot.pause()
        tl = app.timeline
        name = app.model.steps[tl.current_step()].name
        line = tl.cursor - int(tl.scroll_offset.y)
        assert name == "step-000116" and not tl.follow
        gate.release()
        gate.release()
        await wait_for(pilot, lambda: app.loading is None and app.model.partial is None)
        await pilot.pause()
        assert app.model.steps[tl.current_step()].name == name
        lines, cursor = timeline_screen(app)
        assert cursor == [line], "the highlighted step is still on the same screen line"
        assert lines[line].split()[0] == "116"
        assert [ln.rstrip() for ln in lines] == [ln.rstrip() for ln in model_screen(app)]
        assert app.detail.shown == (big, name)


async def test_choosing_another_session_stops_the_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        small = "crab_other_1"
        await wait_for(pilot, lambda: small in app.summaries)
        app.select_session(small)
        gate.release()
        gate.release()
        await wait_for(pilot, lambda: app.model is not None and app.model.slug == small and app.loading is None)
        await wait_for(pilot, lambda: gate.stopped.is_set())  # the big read raised LoadCancelled
        await pilot.pause(0.2)
        assert app.model.slug == small and app.model.partial is None
        assert "hello" in screen_text(app) and "reading" not in screen_text(app)


async def test_a_step_written_while_listing_before_the_watch_is_up_still_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big, _ = build(tmp_path / "root")
    w = DaemonWriter(tmp_path / "root")

    def write_one(path: Path) -> None:  # the daemon appends right after the listing, before any watch
        w.append(big, _entry("written in the window"))

    gate = Gate(monkeypatch, on_listed=write_one)
    app = fixed_app(tmp_path / "root", select=big, watch=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: gate.held.is_set())
        gate.release()
        gate.release()
        await wait_for(pilot, lambda: app.loading is None and app.watcher_mode not in ("starting", "off"), timeout=10)
        await wait_for(pilot, lambda: app.model is not None and len(app.model.steps) == 122, timeout=10)
        assert app.model.steps[-1].name == "step-000122"
        await wait_for(pilot, lambda: "written in the window" in screen_text(app))


async def test_going_to_a_step_not_yet_read_goes_there_once_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        app.timeline.focus()
        await pilot.press("colon", "5", "enter")
        await wait_for(pilot, lambda: "step 5 is not read yet: going there once it is" in [n.message for n in app._notifications])
        assert app.timeline.follow, "nothing moved yet: the end is still shown"
        gate.release()
        gate.release()
        await wait_for(pilot, lambda: app.loading is None and app.model.partial is None)
        await wait_for(pilot, lambda: app.timeline.current_step() >= 0 and app.model.steps[app.timeline.current_step()].name == "step-000005")
        lines, cursor = timeline_screen(app)
        assert len(cursor) == 1 and lines[cursor[0]].split()[0] == "5"


async def test_a_search_typed_on_the_end_stays_and_covers_the_whole_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        await pilot.press("slash", *"early 3", "enter")  # only in the part not read yet
        await wait_for(pilot, lambda: not app.search.running and app.search.text == "early 3")
        assert not [n for n in notes(app) if n.startswith("no step matches")], "not a claim about the whole session"
        assert any("no match for “early 3” in the last 20 steps (the rest is still being read)" in n for n in notes(app))
        await whole(pilot, gate)
        await wait_for(pilot, lambda: not app.search.running and app.search.text == "early 3" and app.search.rows)
        hits = sorted(app.model.steps[app.model.rows[r].index].name for r in app.search.rows)
        assert hits == ["step-000004"] + [f"step-{n:06d}" for n in range(31, 41)]  # early 3, early 30..39
        await pilot.press("n")
        await pilot.pause()
        assert "early 3" in app.model.summary_of(app.timeline.current_step())


async def test_search_rows_follow_the_bigger_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        await pilot.press("slash", *"late 5", "enter")
        await wait_for(pilot, lambda: not app.search.running and app.search.text == "late 5")
        gate.release()
        await wait_for(pilot, lambda: app.model.partial is not None and app.model.partial.shown == 68)
        await wait_for(pilot, lambda: not app.search.running and app.search.rows)
        await pilot.press("g", "n")
        await pilot.pause()
        for _ in range(len(app.search.rows)):
            assert "late 5" in app.model.summary_of(app.timeline.current_step())
            await pilot.press("n")
            await pilot.pause()
        assert app.timeline.matches == set(app.search.rows)
        await whole(pilot, gate)


async def test_navigation_on_the_end_claims_nothing_about_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        for key in ("c", "e", "apostrophe"):
            await pilot.press(key)
            await pilot.pause()
        said = notes(app)
        assert not [n for n in said if "in this session" in n], said
        assert "no compacts in the last 20 steps read so far" in said and "no problems in the last 20 steps read so far" in said
        await whole(pilot, gate)
        await pilot.press("c")
        await pilot.pause()
        assert app.model.steps[app.timeline.current_step()].name == "step-000061"


async def test_memory_db_changed_during_the_read_is_what_the_whole_view_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crabview.store.memory import load_memory

    async with reading(tmp_path, monkeypatch, (160, 30)) as (pilot, app, gate, big):
        app.store.memory = load_memory(tmp_path / "root" / "no-such.db")  # memory.db re-read meanwhile: no archives now
        await whole(pilot, gate)
        assert app.model.archive_found == {"crab-user-1-1": False}
        await pilot.press("c")
        await pilot.pause()
        assert "MISSING from memory.db" in app.timeline.row_text(app.timeline.cursor)
        await wait_for(pilot, lambda: app.model.facts is not None and app.model.facts.stats.severities.get("error"))


async def test_a_later_move_wins_over_a_pending_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        await pilot.press("colon", "5", "enter")
        await pilot.pause()
        await pilot.press("colon", *"110", "enter")  # in the end already read: goes there now
        await pilot.pause()
        assert app.model.steps[app.timeline.current_step()].name == "step-000110"
        await whole(pilot, gate)
        await pilot.pause(0.2)
        assert app.model.steps[app.timeline.current_step()].name == "step-000110"


async def test_a_session_deleted_while_it_is_read_stays_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crabview.tui.messages import SessionsRemoved

    async with reading(tmp_path, monkeypatch, (120, 30)) as (pilot, app, gate, big):
        app.post_message(SessionsRemoved([big]))
        await pilot.pause(0.2)
        gate.release()
        gate.release()
        await wait_for(pilot, lambda: gate.stopped.is_set())  # the read stopped (LoadCancelled)
        await pilot.pause(0.3)
        text = screen_text(app)
        assert app.model is None and app.loading is None
        assert "was deleted" in text and "reading" not in text


async def test_the_default_session_opens_end_first_from_the_summaries_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path the CLI takes (no session named): the biggest session, from the listing the summaries made."""
    import crabview.store.store as store_mod
    import crabview.tui.opening as opening

    big, _ = build(tmp_path / "root")
    monkeypatch.setattr(store_mod, "KEEP_LISTING_MIN", 10)
    handed: list = []
    real_take = opening.SessionOpener._take_listing

    def take(self, slug):
        got = real_take(self, slug)
        handed.append((slug, got is not None))
        return got

    monkeypatch.setattr(opening.SessionOpener, "_take_listing", take)
    gate = Gate(monkeypatch)
    app = fixed_app(tmp_path / "root")
    async with app.run_test(size=(120, 30)) as pilot:
        await held_at_first_stand_in(pilot, gate)
        assert app.model.slug == big and handed == [(big, True)]
        assert [app.model.steps[r.index].name for r in app.model.rows[1:]] == [f"step-{n:06d}" for n in range(102, 122)]
        await whole(pilot, gate)
        assert len(app.model.steps) == 121 and app.timeline.follow


async def test_a_late_answer_of_an_earlier_open_of_the_same_session_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chosen, left and chosen again: only the newest open's answer is shown (events between the two opens
    were not kept for the first one, so its whole session could miss a step)."""
    from crabview.tui.messages import SessionLoaded

    async with reading(tmp_path, monkeypatch) as (pilot, app, gate, big):
        stale = app.session  # an answer of open 1 (a stand-in will do: only its open number matters)
        app.select_session("crab_other_1")
        await wait_for(pilot, lambda: app.model is not None and app.model.slug == "crab_other_1" and app.loading is None)
        app.select_session(big)  # open 3
        app.post_message(SessionLoaded(stale, 0.0, app.model, 1))  # open 1's late answer
        await pilot.pause(0.2)
        assert app.loading == big and (app.model is None or app.model.slug != big or app.model.partial is not None)
        for _ in range(4):
            gate.release()
        await wait_for(pilot, lambda: app.loading is None and app.model is not None and app.model.slug == big and app.model.partial is None)
        assert len(app.model.steps) == 121
