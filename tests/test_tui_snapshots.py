"""SVG snapshots of the main screens (pytest-textual-snapshot, 120x36, fixed clock and names).

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crabview.tui.widgets.sessions import SessionList
from tui_support import SIZE, build_fixed_demo, fixed_app, loaded, wait_for

# A fixed path: the status line shows a label, but keep paths stable anyway.
@pytest.fixture(scope="module")
def snap_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixed_demo(tmp_path_factory.mktemp("snap") / "demo")


def settle(slug: str, *keys: str, focus_sessions: bool = False):
    async def run_before(pilot) -> None:
        app = pilot.app
        await loaded(pilot, slug)
        await wait_for(pilot, lambda: len(app.stats) == len(app.summaries))
        if focus_sessions:
            app.query_one(SessionList).focus()
        for k in keys:
            await pilot.press(k)
            await loaded(pilot, slug)
        await pilot.pause()

    return run_before


def test_snapshot_healthy_session(snap_root: Path, snap_compare) -> None:
    app = fixed_app(snap_root, select="crab_user_2")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle("crab_user_2", "up", "up"))


def test_snapshot_compacted_session(snap_root: Path, snap_compare) -> None:
    app = fixed_app(snap_root, select="crab_user_1")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle("crab_user_1", "C"))


def test_snapshot_corrupt_session_bytes_view(snap_root: Path, snap_compare) -> None:
    app = fixed_app(snap_root, select="researcher_tg-12345_1")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle("researcher_tg-12345_1", "g", "e", "e", "b"))


def test_snapshot_sessions_pane(snap_root: Path, snap_compare) -> None:
    app = fixed_app(snap_root, select="coder_delegate-42_1")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle("coder_delegate-42_1", focus_sessions=True))
