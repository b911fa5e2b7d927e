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


async def test_the_end_shows_first_then_the_whole_session_keeps_following(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big, _ = build(tmp_path / "root")
    gate = Gate(monkeypatch)
    app = fixed_app(tmp_path / "root", select=big)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: gate.held.is_set() and app.model is not None and app.model.partial is not None)
        await pilot.pause()
        # the end of the load order, and nothing else: steps 102..121 (meta row pinned first)
        assert [app.model.steps[r.index].name for r in app.model.rows[1:]] == [f"step-{n:06d}" for n in range(102, 122)]
        lines, cursor = timeline_screen(app)
        assert [ln.rstrip() for ln in lines] == [ln.rstrip() for ln in model_screen(app)]
        assert shown_numbers(app)[-1] == "121" and cursor == [max(i for i, ln in enumerate(lines) if ln.strip())]
        text = screen_text(app)
        assert "121 steps · reading…" in text and "17% 20 of 121 read · the last 20 shown · replay start unknown · counts so far" in text
        assert "replay pending" in text and "not replayed (load fails)" not in text and "missing" not in text
        assert "daemon load: known once all is read" in text
        assert app.timeline.follow
        gate.release()  # read back to the last compact
        await wait_for(pilot, lambda: len(gate.stand_ins) == 2 and gate.held.is_set())
        await wait_for(pilot, lambda: app.model.partial is not None and app.model.partial.boundary_known)
        await pilot.pause()
        assert gate.stand_ins[1].shown == 20 + 3 * 16  # batches back until one held the compact (step 61)
        text = screen_text(app)
        assert "68 of 121 read · the last 68 shown · counts so far" in text and "replay start unknown" not in text
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
    big, _ = build(tmp_path / "root")
    gate = Gate(monkeypatch)
    app = fixed_app(tmp_path / "root", select=big)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: gate.held.is_set() and app.model is not None and app.model.partial is not None)
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
    big, small = build(tmp_path / "root")
    gate = Gate(monkeypatch)
    app = fixed_app(tmp_path / "root", select=big)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: gate.held.is_set() and app.model is not None and app.model.partial is not None)
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
    big, _ = build(tmp_path / "root")
    gate = Gate(monkeypatch)
    app = fixed_app(tmp_path / "root", select=big)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: gate.held.is_set() and app.model is not None and app.model.partial is not None)
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
