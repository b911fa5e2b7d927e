"""Helpers for the TUI tests (not collected: no test_ prefix)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any, Callable

from textual.strip import Strip

from crabview.demo import build_demo
from crabview.store.layout import TMP_MARK
from crabview.store.store import Store
from crabview.tui.app import CrabviewApp, make_app

# A fixed "now" a few hours after the demo store's timestamps.
FIXED_NOW = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()
SIZE = (120, 36)


def build_fixed_demo(path: Path) -> Path:
    """The demo store with tmp leftovers renamed to names that do not vary (pid/nanos)."""
    root = build_demo(path)
    k = 0
    for sdir in sorted((root / "sessions").iterdir()):
        for name in sorted(os.listdir(sdir)):
            if TMP_MARK in name:
                final = name.split(TMP_MARK)[0]
                k += 1
                os.rename(sdir / name, sdir / f"{final}.tmp.4242.176362920000000000{k}")
    return root


def fixed_app(root: Path, select: str | None = None, watch: bool = False, **kw: Any) -> CrabviewApp:
    return make_app(Store.open(root), now=FIXED_NOW, root_label="~/.crabtalk (demo)", watch=watch, select=select, **kw)


async def wait_for(pilot: Any, pred: Callable[[], object], timeout: float = 5.0) -> object:
    """Poll ``pred`` between app pauses until truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.01)


async def loaded(pilot: Any, slug: str | None = None) -> None:
    """Wait until a session (``slug`` if given) is shown and its detail rendered."""
    app: CrabviewApp = pilot.app

    def ready() -> bool:
        if app.model is None or (slug is not None and app.model.slug != slug):
            return False
        d = app.detail
        i = app.timeline.current_step()
        want = (app.model.slug, app.model.steps[i].name) if i >= 0 else (app.model.slug, "meta") if i == -2 else None
        return d._pending is None and d._timer is None and d.shown == want

    await wait_for(pilot, ready)
    await wait_for(pilot, lambda: app.detail.bytes_for == app.detail.shown)
    await pilot.pause()


def rows(app: CrabviewApp) -> list[str]:
    """Texts of the timeline's rows after the pinned meta row (row 0)."""
    tl = app.timeline
    return [tl.row_text(r) for r in range(1, tl.row_count)]


def screen_text(app: CrabviewApp) -> str:
    """Everything currently on screen as plain text."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, record=True, file=open(os.devnull, "w"), color_system=None)
    update = app.screen._compositor.render_update(full=True)
    console.print(update)  # type: ignore[arg-type]
    return console.export_text()


def region_text(app: CrabviewApp, widget: Any) -> str:
    """The on-screen text inside ``widget``'s region (e.g. only the detail pane)."""
    r = widget.region
    lines = screen_text(app).splitlines()[r.y : r.bottom]
    return "\n".join(line[r.x : r.right] for line in lines)


__all__ = ["see", "region_text", "FIXED_NOW", "SIZE", "build_fixed_demo", "fixed_app", "wait_for", "loaded", "rows", "screen_text", "asyncio"]


async def see(pilot: Any, *texts: str, timeout: float = 5.0) -> str:
    """Wait until every text is on screen; returns the screen text."""
    app = pilot.app

    def check() -> str | None:
        t = screen_text(app)
        return t if all(x in t for x in texts) else None

    try:
        return await wait_for(pilot, check, timeout)  # type: ignore[return-value]
    except AssertionError:
        raise AssertionError(f"not on screen: {[x for x in texts if x not in screen_text(app)]}\n{screen_text(app)}") from None


def timeline_screen(app: CrabviewApp) -> tuple[list[str], list[int]]:
    """The timeline's on-screen lines (plain text) and which of them carry the cursor style.

    Read from the compositor's full render, i.e. what a terminal would show,
    not from the widget's idea of its rows.
    """
    from crabview.tui.widgets.timeline import S_CURSOR, S_CURSOR_BLUR

    tl = app.timeline
    region = tl.scrollable_content_region
    update = app.screen._compositor.render_update(full=True)
    lines: list[str] = []
    cursor: list[int] = []
    want = {S_CURSOR.bgcolor, S_CURSOR_BLUR.bgcolor}
    for k, y in enumerate(range(region.y, region.bottom)):
        strip = Strip.join(update.strips[y]) if y < len(update.strips) else Strip([])
        part = strip.crop(region.x, region.right)
        lines.append("".join(s.text for s in part).rstrip())
        # the cursor style is under the row's own styles (a search match keeps its colour on the number)
        if any(s.style is not None and s.style.bgcolor in want for s in part):
            cursor.append(k)
    return lines, cursor


def model_screen(app: CrabviewApp) -> list[str]:
    """What the timeline must show: the model's rows from the scroll offset on, cut to the width."""
    tl = app.timeline
    region = tl.scrollable_content_region
    top = int(tl.scroll_offset.y)
    out = []
    for r in range(top, top + region.height):
        text = ""
        if tl.model is not None and r < len(tl.model.rows):
            strip = Strip(tl._row_segments(tl.model, r, region.width)).adjust_cell_length(region.width)
            text = "".join(seg.text for seg in strip)
        out.append(text.rstrip())
    return out
