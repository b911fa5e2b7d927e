#!/usr/bin/env python3
"""Regenerate screenshots/*.svg from the demo store (headless, 120x36, fixed clock).

    python scripts/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from crabview.demo import build_demo
from crabview.store.layout import TMP_MARK
from crabview.store.store import Store
from crabview.tui.app import make_app

NOW = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()
SIZE = (120, 36)

# (file name, session, keys to press, focus the sessions list)
SCENES = [
    ("compacted-session", "crab_user_1", ["C"], False),
    ("corrupt-session-bytes", "researcher_tg-12345_1", ["g", "e", "e", "b"], False),
    ("corrupt-session-decoded", "researcher_tg-12345_1", ["g", "e"], False),
    ("missing-archive", "coder_delegate-42_1", ["C"], False),
    ("raw-view", "crab_user_2", ["up", "r"], False),
    ("sessions", "crab_user_1", [], True),
    ("help", "crab_user_1", ["question_mark"], False),
    ("bad-meta-row", "crab_ops_1", ["e"], False),
    ("search-position", "crab_user_1", ["slash", *"arm64", "enter", "n"], False),
    ("token-chart", "crab_user_1", ["t"], False),
    ("problems", "crab_user_1", ["P"], False),
]


def fixed_demo(path: Path) -> Path:
    root = build_demo(path)
    k = 0
    for sdir in sorted((root / "sessions").iterdir()):
        for name in sorted(os.listdir(sdir)):
            if TMP_MARK in name:
                k += 1
                os.rename(sdir / name, sdir / f"{name.split(TMP_MARK)[0]}.tmp.4242.176362920000000000{k}")
    return root


async def _settle(pilot, slug: str, timeout: float = 10.0) -> None:
    app = pilot.app
    deadline = time.monotonic() + timeout

    def ready() -> bool:
        if app.model is None or app.model.slug != slug or len(app.stats) < len(app.summaries):
            return False
        d = app.detail
        i = app.timeline.current_step()
        want = (slug, app.model.steps[i].name) if i >= 0 else (slug, "meta") if i == -2 else None
        return d._pending is None and d._timer is None and d.shown == want and d.bytes_for == want

    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{slug}: the app did not settle")
        await pilot.pause(0.02)
    await pilot.pause()


async def shoot(root: Path, out: Path) -> list[Path]:
    from crabview.tui.widgets.sessions import SessionList

    written = []
    for name, slug, keys, focus_sessions in SCENES:
        app = make_app(Store.open(root), now=NOW, root_label="~/.crabtalk (demo)", watch=False, select=slug)
        async with app.run_test(size=SIZE) as pilot:
            await _settle(pilot, slug)
            if focus_sessions:
                app.query_one(SessionList).focus()
            for k in keys:
                await pilot.press(k)
                if len(app.screen_stack) == 1 and app.focused is app.timeline:  # not in an input or a modal
                    await _settle(pilot, slug)
            if keys and keys[-1] == "P":  # the store-wide problems view comes from a worker
                while len(app.screen_stack) == 1:
                    await pilot.pause(0.05)
            await pilot.pause(0.1)
            path = out / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(out))
            written.append(path)
    return written


async def shoot_opening(root: Path, out: Path) -> Path:
    """A big session while it is read: its end on screen, the progress bar, counts so far.

    The read is held at its first stand-in (the end of the load order) so
    the picture shows that moment."""
    import random
    import threading

    import crabview.tui.opening as tui_opening
    from crabview.demo import DaemonWriter, turn
    from crabview.store.opening import open_progressively

    w = DaemonWriter(root, atomic=False)
    slug = w.create_session("Crab", "user", "a long day of builds")
    rng = random.Random(7)
    for i in range(600):
        turn(w, slug, rng, i)
        if i % 200 == 99:
            w.compact(slug, f"summary {i}")
    held, go = threading.Event(), threading.Event()

    def gated(s, on_partial, on_progress, on_listed, *a, **k):
        def partial(stand_in):
            on_partial(stand_in)
            held.set()
            go.wait(30)

        return open_progressively(s, partial, on_progress, on_listed, *a, **k)

    real = tui_opening.open_progressively
    tui_opening.open_progressively = gated
    try:
        app = make_app(Store.open(root), now=NOW, root_label="~/.crabtalk (demo)", watch=False, select=slug)
        async with app.run_test(size=SIZE) as pilot:
            while not (held.is_set() and app.model is not None and app.model.partial is not None):
                await pilot.pause(0.02)
            await pilot.pause(0.2)
            app.save_screenshot(filename="opening-big-session.svg", path=str(out))
            go.set()
    finally:
        tui_opening.open_progressively = real
    return out / "opening-big-session.svg"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crabview-shots-") as tmp:
        root = fixed_demo(Path(tmp) / "demo")
        for p in asyncio.run(shoot(root, out)):
            print(p)
        print(asyncio.run(shoot_opening(Path(tmp) / "big", out)))


if __name__ == "__main__":
    main()
