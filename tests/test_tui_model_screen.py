"""Model vs screen: generated stores, generated key sequences, the screen checked after every key.

Hypothesis builds a small store (turns, compacts, damage) and a sequence of
user actions — navigation, search, follow, filter typing, resizes, live
appends by the daemon-like writer — and Pilot drives the app through it.
After every action:

- the timeline's lines on screen (read from the compositor) are exactly
  the model's rows at the current scroll offset;
- exactly one line is highlighted, and it is the cursor's row; the detail
  pane shows that row's step;
- the cursor is where a reference model of the keys says (j/k/g/G/Home/End);
- the sessions filter holds exactly what was typed;
- nothing raised (Pilot re-raises an app exception on exit).

At the end the app's rows equal those of a fresh load of the store.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from crabview.demo import DaemonWriter, turn
from crabview.store import models as m
from crabview.store.store import Store
from crabview.tui.model import ROW_GAP, TimelineModel
from crabview.tui.widgets.sessions import SessionList
from tui_support import fixed_app, loaded, model_screen, timeline_screen, wait_for

SIZES = [(80, 24), (100, 30), (160, 48)]
WORD = st.text(st.sampled_from(list("abegjkrcnfoq")), min_size=1, max_size=6)

ACTION = st.one_of(
    st.sampled_from(["j", "k", "up", "down", "pagedown", "pageup", "g", "G", "home", "end", "e", "E", "c", "C", "n", "N", "f"]).map(lambda k: ("key", k)),
    st.tuples(st.just("key_burst"), st.sampled_from(["j", "k", "pagedown", "pageup"]), st.integers(2, 25)),
    st.tuples(st.just("search"), st.sampled_from(["arm64", "disk", "zzz-none", "re:step|shell", "LINE"])),
    st.tuples(st.just("filter"), WORD),
    st.tuples(st.just("resize"), st.sampled_from(SIZES)),
    st.tuples(st.just("append"), st.integers(1, 2)),
)


def build_store(root: Path, turns: int, seed: int, damage: bool) -> str:
    w = DaemonWriter(root)
    slug = w.create_session("Crab", "user", "generated")
    rng = random.Random(seed)
    for i in range(turns):
        turn(w, slug, rng, i)
        if i == turns // 2 and turns > 2:
            w.compact(slug, f"summary {i}")
    if damage:
        w.append_raw(slug, b'{"message": {"role": "user", "content": [')  # unparsable
        n = w._next_step(slug)
        w._counters[slug] = n + 3  # a gap of three numbers
    return slug


def selectable(model: TimelineModel, r: int) -> bool:
    return model.rows[r].kind != ROW_GAP


def reference_cursor(model: TimelineModel, cursor: int, key: str) -> int | None:
    """Where j/k/g/G/Home/End put the cursor (None: a key this reference does not model)."""
    last = len(model.rows) - 1
    if key in ("g", "home"):
        return 0
    if key in ("G", "end"):
        return last
    if key in ("j", "down"):
        r = min(cursor + 1, last)
        if not selectable(model, r):
            r = r + 1 if r + 1 <= last else r - 1
        return r
    if key in ("k", "up"):
        r = cursor - 1
        if r >= 0 and not selectable(model, r):
            r -= 1
        return max(r, 0)
    return None


def check(app, typed: str | None) -> None:
    lines, cursor_lines = timeline_screen(app)
    assert lines == model_screen(app), "the screen shows rows the model does not have there"
    tl = app.timeline
    top = int(tl.scroll_offset.y)
    h = tl.scrollable_content_region.height
    assert top <= tl.cursor < top + h, "the cursor row is off screen"
    assert cursor_lines == [tl.cursor - top], "the highlight is not on the cursor row"
    i = tl.current_step()
    want = (app.model.slug, app.model.steps[i].name) if i >= 0 else (app.model.slug, "meta")
    assert app.detail.shown == want, "the detail pane shows another step than the highlighted row"
    if typed is not None:
        assert app.query_one("#session-filter").value == typed


async def settle(pilot, app) -> None:
    await loaded(pilot)
    await pilot.pause()


# bounded: each example starts an app (~1-2 s); no shrinking, the failing example is printed as generated
@settings(
    max_examples=5,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    turns=st.integers(1, 14),
    seed=st.integers(0, 1000),
    damage=st.booleans(),
    size=st.sampled_from(SIZES),
    actions=st.lists(ACTION, min_size=3, max_size=14),
)
async def test_screen_matches_model_after_every_key(tmp_path_factory, turns, seed, damage, size, actions) -> None:
    root = tmp_path_factory.mktemp("model") / "store"
    slug = build_store(root, turns, seed, damage)
    writer = DaemonWriter(root)
    rng = random.Random(seed)
    appended = 0
    app = fixed_app(root, watch=any(a[0] == "append" for a in actions))
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, slug)
        if app.watch_enabled:
            await wait_for(pilot, lambda: app.watcher_mode in ("inotify", "poll"))
        check(app, None)
        typed: str | None = None
        for action in actions:
            kind = action[0]
            tl = app.timeline
            if typed is not None and kind != "filter":  # leave the filter: Esc clears it, back to the timeline
                await pilot.press("escape")
                assert app.query_one("#session-filter").value == ""
                typed = None
                tl.focus()
                await pilot.pause()
            if kind == "key":
                key = action[1]
                before = tl.cursor
                top = int(tl.scroll_offset.y)
                want = reference_cursor(app.model, before, key)
                await pilot.press(key)
                await settle(pilot, app)
                # the height after the key: End/G hide the "N new rows below" line, the timeline grows by one
                h = tl.scrollable_content_region.height
                if want is not None:
                    assert tl.cursor == want, f"{key}: cursor {tl.cursor}, expected {want}"
                    # the view scrolls only as far as the cursor needs, never the whole list per key
                    want_top = top if top <= want < top + h else (want if want < top else want - h + 1)
                    assert int(tl.scroll_offset.y) == want_top, f"{key}: scrolled to {int(tl.scroll_offset.y)}, expected {want_top}"
                    if key in ("G", "end"):
                        assert tl.follow
            elif kind == "key_burst":
                await pilot.press(*[action[1]] * action[2])  # as fast as a held key
                await settle(pilot, app)
            elif kind == "search":
                await pilot.press("slash", *action[1], "enter")
                await wait_for(pilot, lambda: not app.search.running, timeout=10)
                await settle(pilot, app)
                if app.search.rows:
                    assert tl.cursor in app.search.rows  # jumped to a match of this query
            elif kind == "filter":
                if typed is None:
                    app.query_one(SessionList).focus()
                    await pilot.pause()
                    await pilot.press("slash")
                    typed = ""
                await pilot.press(*action[1])
                typed += action[1]
                await pilot.pause()
            elif kind == "resize":
                await pilot.resize_terminal(*action[1])
                await settle(pilot, app)
            elif kind == "append":
                for _ in range(action[1]):
                    turn(writer, slug, rng, 100 + appended)
                    appended += 1
                want_steps = len([n for n in (root / "sessions" / slug).iterdir() if n.name.startswith("step-")])
                await wait_for(pilot, lambda: app.model is not None and len(app.model.steps) == want_steps, timeout=15)
                await settle(pilot, app)
            check(app, typed)
        # the truth: a fresh load of the store has the same rows
        fresh = TimelineModel(Store.open(root).load_session(slug))
        got = [(r.kind, app.model.steps[r.index].name if r.index >= 0 else "", r.extra) for r in app.model.rows]
        want = [(r.kind, fresh.steps[r.index].name if r.index >= 0 else "", r.extra) for r in fresh.rows]
        assert got == want
        assert isinstance(m.KIND_ENTRY, str)
