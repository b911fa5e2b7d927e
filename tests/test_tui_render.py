"""The timeline shows the model's rows after every kind of scroll (read from the compositor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crabview.demo import DaemonWriter, turn
from tui_support import fixed_app, loaded, model_screen, timeline_screen, wait_for

import random


@pytest.fixture(scope="module")
def long_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("render") / "store"
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user", "Long one")
    rng = random.Random(3)
    for i in range(30):  # 7 steps a turn
        turn(w, slug, rng, i)
    return root


def check_screen(app) -> None:
    lines, cursor = timeline_screen(app)
    assert lines == model_screen(app)
    tl = app.timeline
    top = int(tl.scroll_offset.y)
    assert cursor == [tl.cursor - top]
    i = tl.current_step()
    assert app.detail.shown == ((app.model.slug, app.model.steps[i].name) if i >= 0 else (app.model.slug, "meta"))


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_rows_after_keys_scroll(long_root: Path, size) -> None:
    app = fixed_app(long_root)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.press("g")
        await loaded(pilot)
        check_screen(app)
        for keys in (["j"] * 30, ["pagedown"] * 2, ["up"] * 3, ["home"], ["end"], ["pageup"] * 3, ["k"] * 40):
            await pilot.press(*keys)
            await loaded(pilot)
            check_screen(app)


async def test_click_selects_the_row_under_the_pointer_after_scrolling(long_root: Path) -> None:
    app = fixed_app(long_root)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("g", *["pagedown"] * 3)
        await loaded(pilot)
        tl = app.timeline
        top = int(tl.scroll_offset.y)
        assert top > 0
        lines, _ = timeline_screen(app)
        await pilot.click(tl, offset=(20, 8))
        await loaded(pilot)
        check_screen(app)
        assert tl.cursor == top + 8
        # the row under the pointer is the one now highlighted, with the text it showed
        assert timeline_screen(app)[0][8] == lines[8]


async def test_mouse_wheel_then_keys_show_the_model(long_root: Path) -> None:
    app = fixed_app(long_root)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        tl = app.timeline
        for _ in range(5):
            await pilot.mouse_down(tl)  # focus
            tl.scroll_relative(y=-7, animate=False)
            await pilot.pause()
            lines, _ = timeline_screen(app)
            assert lines == model_screen(app)
        await pilot.press("k")
        await loaded(pilot)
        check_screen(app)
