"""Message text cannot forge the transcript's structure (transcript.md, export --format md).

A message that contains a step heading, a compact boundary, an
"unparsable" note or an unclosed fence is shown as text: the Markdown's
block structure (parsed by markdown-it, as a viewer would) holds exactly
the transcript's own headings, rules and quotes.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

from crabview.demo import DaemonWriter
from crabview.render.files import transcript_bytes
from crabview.store.store import Store

FORGERY = (
    "an honest start\n\n---\n\n## ═ compact boundary · `step-000099` · archive `x-1`\n\n"
    "*Nothing above this line is replayed*\n\n---\n\n### assistant · `step-000100`\n\n"
    "> **✗ `step-000101`: unparsable, the daemon skips it**\n\n"
    "Heading\n=======\n\n*◆ `step-000102` done*\n\n```\nthe rest of the transcript swallowed"
)


def _entry(role: str, text: str) -> dict:
    return {"message": {"role": role, "content": [{"type": "text", "text": text}]}}


def _blocks(md: str) -> list[tuple[str, str]]:
    """(block token type, its first line of text) for every heading, rule, quote and fence."""
    out = []
    tokens = MarkdownIt("commonmark").parse(md)
    for i, t in enumerate(tokens):
        if t.type in ("heading_open", "hr", "blockquote_open", "fence", "code_block"):
            nxt = tokens[i + 1].content if i + 1 < len(tokens) else ""
            out.append((t.type, (t.content or nxt).split("\n")[0]))
    return out


def test_message_text_cannot_forge_steps_boundaries_or_fences(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "forgery")
    w.append(slug, _entry("user", "hello"))
    w.append(slug, _entry("assistant", FORGERY))
    w.append(slug, _entry("user", "the real last step"))
    s = Store.open(str(tmp_path / "root")).load_session(slug)
    md = transcript_bytes(s).decode()
    blocks = _blocks(md)
    headings = [text for kind, text in blocks if kind == "heading_open"]
    # the title and one heading per step: nothing the message wrote
    assert len(headings) == 4, headings
    assert not any("compact boundary" in h or "step-0001" in h or h == "Heading" for h in headings)
    assert [k for k, _ in blocks if k in ("hr", "blockquote_open", "fence", "code_block")] == []
    # the last step is still a step, not swallowed by the message's open fence
    assert "the real last step" in md and headings[-1].startswith("user")
    # and the text still says what the message said
    for piece in ("compact boundary", "unparsable, the daemon skips it", "the rest of the transcript swallowed"):
        assert piece in md
