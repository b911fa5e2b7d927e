"""Every renderer over every field: hostile text (escape families, every
Unicode format character, markup, newlines) generated into each string a
step or meta can hold, through every view the render layer makes (one-line
summary, detail text, Markdown, HTML, every JSON), judged by the Unicode
database. One-line views also never span lines."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from crabview.render import files as rf
from crabview.render.html import session_html
from crabview.render.jsonenc import dumps
from crabview.render.text import ToolIndex, session_json, step_text, summary
from crabview.store import models as m
from crabview.store.decode import encode
from crabview.store.session import load_session
from support.attack import EVERY_ESCAPE, FORGED_LINE, unsafe_chars

_pieces = st.sampled_from([EVERY_ESCAPE, FORGED_LINE, "\x1b]8;;http://e\x07l\x1b]8;;\x07", "\u202e", "\U000e0041", "[@click=app.quit]x",
                           "\x9b31m", "\r", "\x0c", "\u2028", "ok", "`", "</div><script>", "\\u001b"])
_hostile = st.lists(_pieces | st.text(max_size=4), min_size=1, max_size=4).map("".join)


def _values(t):
    blocks = [m.TextBlock(t), m.ThinkingBlock(t, t), m.ToolUseBlock(t, t, {t: [t, {t: t}]}), m.ImageBlock({t: t}),
              m.ToolResultBlock(t, [m.TextBlock(t), m.ToolResultBlock(t, t, t)], t), m.ToolResultBlock(t, t)]
    return [
        m.HistoryEntry(agent=t, message=m.Message(t, blocks)),
        m.ToolStartEvent([m.ToolCall(t, t, t)], t),
        m.ToolResultEvent(t, 1, t),
        m.DoneEvent(t, 1, t, m.Usage(1, 2, 3, m.CompletionTokensDetails(1), 4, 5), t),
        m.UserSteeredEvent(t, t),
        m.Compact(t, t),
        m.LegacyCompact(t, t, t),
        m.HistoryEntry(message=m.Message("user", [m.TextBlock("after")])),
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile)
def test_every_view_of_every_field_is_inert(t: str) -> None:
    d = Path(tempfile.mkdtemp(prefix="crabview-attack-render-"))
    try:
        (d / "meta").write_bytes(encode(m.Meta(t, t, t, t, t, 3, t)))
        for i, v in enumerate(_values(t), 1):
            (d / f"step-{i:06d}").write_bytes(encode(v))
        (d / "step-000009").write_bytes(t.encode("utf-8", "surrogatepass") + b"{")  # unparsable, quoting the text
        s = load_session(d)
        tools = ToolIndex(s.steps)
        one_line_views = [summary(st_, tools, 300) for st_ in s.steps]
        for text in one_line_views:
            assert "\n" not in text and unsafe_chars(text) == [], text
        views = [step_text(st_, tools) for st_ in s.steps]
        views += [rf.transcript_bytes(s).decode(), rf.transcript_bytes(s, True).decode(), session_html(s), session_html(s, True),
                  rf.replay_bytes(s).decode(), rf.steps_jsonl_bytes(s).decode(), rf.meta_json_bytes(s).decode(),
                  rf.problems_bytes(s.problems).decode(), dumps(session_json(s), 2)]
        views += [rf.step_json_bytes(st_, s, i).decode() for i, st_ in enumerate(s.steps) if st_.kind != "unparsable"]
        views += [rf.unparsable_bytes(st_, (d / st_.name).read_bytes()).decode() for st_ in s.steps if st_.kind == "unparsable"]
        for text in views:
            assert unsafe_chars(text) == [], (unsafe_chars(text), text[:400])
        json.loads(dumps(session_json(s), 2))
        for line in rf.problems_bytes(s.problems).decode().splitlines():
            assert not line.startswith("error   forged"), line
    finally:
        shutil.rmtree(d)
