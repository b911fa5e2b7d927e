"""Typing in the sessions pane: every typed or pasted character lands in the filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from textual import events

from crabview.tui.widgets.sessions import SessionList, SessionsPane
from tui_support import SIZE, build_fixed_demo, fixed_app, loaded, wait_for


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixed_demo(tmp_path_factory.mktemp("filter") / "demo")


def keys_of(word: str) -> list[str]:
    return ["space" if c == " " else c for c in word]


@pytest.mark.parametrize("word", ["researcher", "bad", "josé", "Gen", "nightly build"])
async def test_slash_then_a_word_lands_exactly(demo_root: Path, word: str) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.query_one(SessionList).focus()
        await pilot.press("slash", *keys_of(word))  # no pause between keys: paste speed
        inp = app.query_one("#session-filter")
        assert inp.value == word
        await wait_for(pilot, lambda: app.query_one(SessionsPane).filter_text == word)


async def test_a_non_action_letter_starts_the_filter_and_the_rest_lands(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.query_one(SessionList).focus()
        raw_before = app.detail.mode
        await pilot.press(*"probe")  # p starts the filter; r, o, b, e must not act
        assert app.query_one("#session-filter").value == "probe"
        assert app.detail.mode == raw_before  # neither r (raw) nor b (bytes) acted


async def test_paste_into_the_list_lands_in_the_filter(demo_root: Path) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        lst = app.query_one(SessionList)
        lst.focus()
        await pilot.pause()
        lst.post_message(events.Paste("researcher"))
        await wait_for(pilot, lambda: app.query_one("#session-filter").value == "researcher")
        assert app.query_one(SessionsPane).slugs == ["researcher_tg-12345_1"] or await wait_for(
            pilot, lambda: app.query_one(SessionsPane).slugs == ["researcher_tg-12345_1"]
        )


async def test_esc_clears_enter_opens_the_single_match_jk_move(demo_root: Path) -> None:
    app = fixed_app(demo_root, select="crab_user_1")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, "crab_user_1")
        pane = app.query_one(SessionsPane)
        lst = app.query_one(SessionList)
        lst.focus()
        await pilot.press("slash", *"outage")
        await wait_for(pilot, lambda: pane.slugs == ["crab_user_2"])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(pane.slugs) == 6)
        assert app.query_one("#session-filter").value == "" and app.focused is lst
        await pilot.press("slash", *"outage", "enter")
        await loaded(pilot, "crab_user_2")
        assert app.focused is app.timeline
        lst.focus()
        await pilot.press("escape")  # Esc in the list clears the filter too
        await wait_for(pilot, lambda: len(pane.slugs) == 6)
        before = lst.highlighted
        await pilot.press("j")
        assert lst.highlighted is not None and lst.highlighted > before
        await pilot.press("k")
        assert lst.highlighted == before
        assert app.query_one("#session-filter").value == ""


WORDS = st.text(st.sampled_from(list("abcdefgjkrnNeEcCGfqxyz é/?")), min_size=1, max_size=10)


@pytest.mark.slow  # not the only proof: the words above and the model test type into the filter too
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(word=WORDS)
async def test_any_word_after_slash_lands_exactly(demo_root: Path, word: str) -> None:
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.query_one(SessionList).focus()
        await pilot.press("slash", *[{" ": "space", "/": "slash", "?": "question_mark"}.get(c, c) for c in word])
        assert app.query_one("#session-filter").value == word
        assert app.is_running  # q did not quit


@pytest.mark.parametrize("prefix,word", [("", "probe"), ("", "xylo-crab"), ("/", "researcher"), ("/", "bad"), ("/", "josé")])
async def test_keys_queued_at_paste_speed_all_land(demo_root: Path, prefix: str, word: str) -> None:
    """Every key is queued before the first is handled (a terminal without bracketed paste, a fast typist)."""
    app = fixed_app(demo_root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.query_one(SessionList).focus()
        await pilot.pause()
        mode = app.detail.mode
        for ch in prefix + word:
            app.post_message(events.Key("slash" if ch == "/" else ch, ch))
        await wait_for(pilot, lambda: app.query_one("#session-filter").value == word)
        await pilot.pause(0.1)
        assert app.query_one("#session-filter").value == word
        assert app.detail.mode == mode  # no action letter ran (r raw, b bytes, e problem)
