"""Layout at 80x24, 100x30 and 160x48: nothing wraps out of its column, cuts end in an ellipsis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.tui.widgets.sessions import SessionList, SessionsPane
from tui_support import build_fixed_demo, fixed_app, loaded, region_text, rows, see, wait_for

SIZES = [(80, 24), (100, 30), (160, 48)]


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_fixed_demo(tmp_path_factory.mktemp("layout") / "demo")
    w = DaemonWriter(root)
    w.create_session("Crab", "user", "A very long session title that cannot possibly fit in any sessions pane at all")
    return root


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_sessions_pane_lines_stay_in_their_column(demo_root: Path, size) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        await wait_for(pilot, lambda: len(app.stats) == len(app.summaries))
        await pilot.pause()
        lst = app.query_one(SessionList)
        text = region_text(app, lst)
        lines = [ln.rstrip() for ln in text.splitlines()]
        # every option is three lines: title (indent 2), slug (indent 4), stats (indent 4);
        # a wrapped line would start at column 0 or 1 with a word of the previous one
        for ln in lines:
            if not ln.strip():
                continue
            assert ln.startswith("  ") or re.match(r"^\S.* / ", ln), f"wrapped out of its column: {ln!r}"
        assert any(ln.rstrip().endswith("…") for ln in lines)  # the long title is cut, with an ellipsis
        stats = [ln for ln in lines if re.match(r"^ {4}\d", ln)]
        assert len(stats) == len(app.query_one(SessionsPane).slugs) or len(lines) >= lst.size.height - 1


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_header_is_cut_with_an_ellipsis(demo_root: Path, size) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        head = region_text(app, app.query_one("#timeline-title")).rstrip()
        full = app.query_one("#timeline-title").render()
        plain = getattr(full, "plain", str(full))
        if len(plain) > app.query_one("#timeline-title").size.width:
            assert head.endswith("…"), head
        else:
            assert head.strip() == plain.strip()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_bytes_view_rows_widen_and_text_columns_align(demo_root: Path, size) -> None:
    app = fixed_app(demo_root, select="researcher_tg-12345_1")
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, "researcher_tg-12345_1")
        await pilot.press("g", "e", "e", "b")  # an unparsable step: hex + salvage
        await loaded(pilot)
        await see(pilot, "salvage")
        hex_text = region_text(app, app.query_one("#hex-scroll"))
        hex_rows = [ln for ln in hex_text.splitlines() if re.match(r"^[0-9a-f]{8}  ", ln.strip())]
        assert hex_rows
        edges = {ln.rstrip().rfind("│") for ln in hex_rows}
        starts = {ln.find("│") for ln in hex_rows}
        assert len(edges) == 1 and len(starts) == 1, hex_rows  # the text column's edges line up, short last row too
        per_row = int(hex_rows[1].split()[0], 16) - int(hex_rows[0].split()[0], 16) if len(hex_rows) > 1 else 0
        salvage = app.query_one("#salvage-scroll")
        assert salvage.size.width >= 30  # never a 1-character column
        if size[0] >= 160:
            assert per_row >= 16
        return


async def test_gap_counts_subtract_numbers_that_exist(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "wide numbers")
    d = w.sessions_dir / slug
    entry = b'{"message":{"role":"user","content":[{"type":"text","text":"x"}]}}'
    for name in ("step-000001", "step-000002", "step-000003", "step-000004", "step-1000000", "step-200000", "step-999999"):
        (d / name).write_bytes(entry)
    app = fixed_app(w.root)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot, slug)
        gaps = [t for t in rows(app) if "missing" in t]
        # byte order: 000004, 1000000, 200000, 999999; between 4 and 1000000 the numbers
        # 5..999999 are absent except 200000 and 999999: 999,993 missing
        assert gaps and "999,993 missing" in gaps[0], gaps
        assert not any("999,995" in t for t in gaps)
