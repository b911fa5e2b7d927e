"""Rows say what the daemon does with them even where load order is not numeric, and the CLI agrees.

Found by the user pass on big sessions: a compact read "replay starts here"
in a session whose load fails; "↯ out of numeric order" hid "not replayed";
a name like step-+24991 (the daemon's u64 parse takes the "+", and "+" sorts
first) flagged thousands of rows out of order while ``check`` reported
nothing; and gap rows vanished after such a name.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import DaemonWriter
from crabview.store import models as m
from tui_support import fixed_app, wait_for


def _entry(text: str) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("user", [m.TextBlock(text)]))


def build(root: Path, *, plus_name: bool = False, unreadable: bool = False, gap: bool = False) -> tuple[str, Path]:
    w = DaemonWriter(root, atomic=False)
    slug = w.create_session("Crab", "user", "order")
    for i in range(10):
        w.append(slug, _entry(f"early {i}"))
    w.compact(slug, "summary")  # step 11
    for i in range(10):
        w.append(slug, _entry(f"late {i}"))  # steps 12..21
    d = w.sessions_dir / slug
    if plus_name:
        (d / "step-000021").rename(d / "step-+21")  # number 21, loads first
    if unreadable:
        (d / "step-000030").mkdir()  # a read error: the whole load fails
    if gap:
        (d / "step-000015").unlink()
    return slug, d


def check_json(root: Path) -> dict:
    r = CliRunner().invoke(main, ["check", str(root), "--json"])
    return json.loads(r.output)


def labels(app) -> dict[str, str]:
    tl, model = app.timeline, app.model
    out = {}
    for r in range(1, tl.row_count):
        row = model.rows[r]
        key = model.steps[row.index].name if row.kind != 2 else f"gap before {model.steps[row.index].name}"
        out[key] = tl.row_text(r, 160).rstrip()
    return out


async def test_a_failing_load_has_no_replay_start_on_its_boundary(tmp_path: Path) -> None:
    slug, _ = build(tmp_path / "root", unreadable=True)
    app = fixed_app(tmp_path / "root", select=slug)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.loading is None)
        rows = labels(app)
        assert "last boundary · the load fails: nothing is replayed" in rows["step-000011"]
        assert "replay starts here" not in rows["step-000011"]
        assert rows["step-000012"].endswith("not replayed (load fails)")
        app.timeline.focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: app.detail.shown == (slug, "step-000011"))
        await pilot.pause(0.3)
        from tui_support import region_text

        text = " ".join(region_text(app, app.detail).split())
        assert "the daemon's load of this session fails: nothing is replayed" in text
        assert "on resume the daemon starts here" not in text


async def test_out_of_order_says_so_beside_the_replay_word_and_check_reports_it(tmp_path: Path) -> None:
    slug, _ = build(tmp_path / "root", plus_name=True, unreadable=True)
    app = fixed_app(tmp_path / "root", select=slug)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.loading is None)
        rows = labels(app)
        # step-+21 loads first; every numbered step after it is out of numeric order, and not replayed
        assert rows["step-000005"].endswith("↯ order · not replayed")
        assert rows["step-000012"].endswith("↯ order · not replayed (load fails)")
    got = [p for s in check_json(tmp_path / "root")["sessions"].values() for p in s["problems"] if p["code"] == "step_order"]
    assert len(got) == 1 and got[0]["file"] == "step-000001" and "step-+21 (step 21) loads before step-000001 (step 1)" in got[0]["reason"]


async def test_gap_rows_stay_after_a_name_that_breaks_numeric_order(tmp_path: Path) -> None:
    slug, _ = build(tmp_path / "root", plus_name=True, gap=True)
    app = fixed_app(tmp_path / "root", select=slug)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.loading is None)
        rows = labels(app)
        assert "… 1 missing …" in rows["gap before step-000016"]
        assert [k for k in rows if k.startswith("gap")] == ["gap before step-000016"]
    gaps = [p for s in check_json(tmp_path / "root")["sessions"].values() for p in s["problems"] if p["code"] == "step_gap"]
    assert len(gaps) == 1 and "1 step number(s) missing: 15" in gaps[0]["reason"]
