"""A session as one self-contained HTML page (``crabview export --format html``).

No scripts, no external resources: inline CSS, ``<details>`` for thinking,
tool calls and tool results, a divider at every compact boundary, the part
the daemon does not replay dimmed, unparsable steps and problems
highlighted. Every string from the store is passed through ``visible()``
and then HTML-escaped, so the page shows exactly what is there and runs
nothing.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any, Iterator

from ..store import models as m
from ..store.session import read_ahead
from .jsonenc import pretty
from .safe import one_line, visible
from .text import RENDER_CAP, KIND_GLYPH, ToolIndex, content_text, result_name, role_of, summary

if TYPE_CHECKING:  # pragma: no cover
    from ..store.session import Session, StepFile

CSS = """
:root { color-scheme: light dark; --fg: #1d1f21; --bg: #fdfdfb; --muted: #6b7280; --line: #d7d7d2;
  --card: #ffffff; --user: #2563eb; --assistant: #059669; --tool: #b45309; --system: #7c3aed;
  --bad: #b91c1c; --badbg: #fef2f2; --warn: #92400e; --warnbg: #fffbeb; --code: #f3f3ef; }
@media (prefers-color-scheme: dark) { :root { --fg: #e5e5e3; --bg: #161616; --muted: #9ca3af; --line: #3a3a38;
  --card: #1f1f1e; --badbg: #3b1111; --warnbg: #33270a; --code: #262624; --bad: #f87171; --warn: #fbbf24; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1.5rem; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
.facts { color: var(--muted); font-size: .9rem; margin: 0 0 1rem; padding-left: 1.2rem; }
.problems { border: 1px solid var(--bad); background: var(--badbg); border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
.problems h2 { font-size: 1rem; margin: .2rem 0; color: var(--bad); }
.problems li.warning, .problems li.info { color: var(--warn); }
.step { border-left: 3px solid var(--line); background: var(--card); margin: .4rem 0; padding: .35rem .8rem; border-radius: 0 6px 6px 0; }
.step header { font-size: .8rem; color: var(--muted); display: flex; gap: .6rem; flex-wrap: wrap; }
.step header .file { font-family: ui-monospace, monospace; }
.role-user { border-left-color: var(--user); } .role-assistant { border-left-color: var(--assistant); }
.role-tool { border-left-color: var(--tool); } .role-system { border-left-color: var(--system); }
.kind-event { background: transparent; font-size: .85rem; color: var(--muted); padding-top: .1rem; padding-bottom: .1rem; }
.kind-unparsable, .kind-unreadable { border-left-color: var(--bad); background: var(--badbg); }
.kind-unparsable .why, .kind-unreadable .why { color: var(--bad); font-weight: 600; }
.not-replayed { opacity: .55; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--code); padding: .4rem .6rem; border-radius: 4px;
  font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; margin: .3rem 0; }
details { margin: .25rem 0; } summary { cursor: pointer; color: var(--muted); font-size: .88rem; }
.divider { display: flex; align-items: center; gap: .6rem; margin: 1.2rem 0 .6rem; color: var(--muted); font-size: .85rem; }
.divider::before, .divider::after { content: ""; flex: 1; border-top: 2px solid var(--line); }
.divider.replay { color: var(--assistant); }
.compact { border-left-color: var(--system); }
.missing { color: var(--bad); font-weight: 600; }
.badge { font-size: .72rem; border: 1px solid var(--line); border-radius: 999px; padding: 0 .45rem; }
"""


def esc(text: str, multiline: bool = True) -> str:
    """Untrusted text made visible, then HTML-escaped."""
    return html.escape(visible(text, multiline=multiline), quote=True)


def _json(v: Any) -> str:
    return pretty(v, 2, max_chars=RENDER_CAP)


def _block(b: Any, tools: ToolIndex) -> str:
    t = type(b)
    if t is m.TextBlock:
        return f'<div class="text">{esc(b.text)}</div>'
    if t is m.ThinkingBlock:
        sig = f" · signed {esc(one_line(b.signature, 24))}" if b.signature else ""
        return f'<details class="thinking"><summary>thinking{sig}</summary><div class="text">{esc(b.thinking)}</div></details>'
    if t is m.ToolUseBlock:
        return (
            f'<details class="tool-call"><summary>tool call <b>{esc(one_line(b.name, 80))}</b> '
            f"<code>{esc(one_line(b.id, 60))}</code></summary><pre>{esc(_json(b.input))}</pre></details>"
        )
    if t is m.ToolResultBlock:
        name = result_name(b, tools)
        label = f" of <b>{esc(one_line(name, 80))}</b>" if name else ""
        return (
            f'<details class="tool-result"><summary>tool result{label} <code>{esc(one_line(b.tool_use_id, 60))}</code>'
            f"</summary><pre>{esc(content_text(b.content))}</pre></details>"
        )
    if t is m.ImageBlock:
        return f'<div class="text"><i>[image]</i> <code>{esc(one_line(_json(b.source), 120))}</code></div>'
    return f'<div class="text">{esc(repr(b))}</div>'


def _header(step: "StepFile", label: str, extra: str = "") -> str:
    return (
        f'<header><span>{KIND_GLYPH.get(step.kind, "?")}</span><span class="file">{esc(step.name, False)}</span>'
        f"<span>{label}</span>{extra}</header>"
    )


_CLASS_UNSAFE = re.compile(r"[^a-z0-9_]")


def _class_token(text: str) -> str:
    """Store text as one CSS class token: only ``[a-z0-9_]``, at most 20
    characters. Classes carry the daemon's verdict (``not-replayed``,
    ``kind-…``), so store text must never add one (``-`` goes too, so
    no role can spell ``role-x not-replayed``'s pieces either)."""
    return _CLASS_UNSAFE.sub("_", text.lower()[:20]) or "_"


def step_html(step: "StepFile", tools: ToolIndex, replayed: bool, memory: Any = None) -> str:
    v = step.value
    t = type(v)
    dim = "" if replayed else " not-replayed"
    notes = ""
    if step.notes:
        notes = f'<span class="badge" title="{esc("; ".join(step.notes), False)}">lenient decode</span>'
    if step.kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):
        what = "unparsable, the daemon skips it" if step.kind == m.KIND_UNPARSABLE else "unreadable, the whole load fails"
        at = f" at byte {step.offset}" if step.offset is not None else ""
        return (
            f'<section class="step kind-{step.kind}" id="{esc(step.name, False)}">{_header(step, what)}'
            f'<div class="why">{esc(step.error or "", False)}{at}</div></section>'
        )
    if t is m.HistoryEntry:
        role = v.message.role
        body = "".join(_block(b, tools) for b in v.message.content) or '<div class="text"><i>(empty)</i></div>'
        state = "" if replayed else '<span class="badge">not replayed</span>'
        return (
            f'<section class="step kind-entry role-{_class_token(role)}{dim}" id="{esc(step.name, False)}">'
            f"{_header(step, esc(role_of(step), False), notes + state)}{body}</section>"
        )
    if t is m.Compact:
        archive = ""
        if memory is not None:
            e = memory.resolve(v.archive_name)
            if e is not None:
                archive = f'<details><summary>archive content</summary><div class="text">{esc(e.content)}</div></details>'
            else:
                archive = (
                    f'<div class="missing">archive missing from memory.db: the daemon injects '
                    f"“[archived context unavailable: {esc(v.archive_name, False)}]”</div>"
                )
        return (
            f'<div class="divider">═ compact boundary · archive <code>{esc(one_line(v.archive_name, 120))}</code>'
            f" · {esc(one_line(v.archived_at, 40))}</div>"
            f'<section class="step compact kind-compact" id="{esc(step.name, False)}">{_header(step, "compact", notes)}{archive}</section>'
        )
    if t is m.LegacyCompact:
        title = f" “{esc(one_line(v.title, 120))}”" if v.title else ""
        return (
            f'<div class="divider">≡ legacy compact{title} (inline summary, no archive)</div>'
            f'<section class="step compact kind-legacy_compact" id="{esc(step.name, False)}">{_header(step, "legacy compact", notes)}'
            f'<div class="text">{esc(v.compact)}</div></section>'
        )
    return (
        f'<section class="step kind-event{dim}" id="{esc(step.name, False)}">'
        f"{_header(step, esc(summary(step, tools, 300), False), notes)}</section>"
    )


def _html_lines(s: "Session", replay_only: bool) -> Iterator[str]:
    meta = s.meta
    title = one_line(meta.title, 200) if meta and meta.title else s.slug
    yield from (
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title, False)} · crabview</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(title, False)}</h1>",
        '<ul class="facts">',
        f"<li>session <code>{esc(s.slug, False)}</code></li>",
    )
    if meta:
        yield (
            f"<li>agent {esc(one_line(meta.agent), False)} · created by {esc(one_line(meta.created_by), False)}"
            f" · created {esc(one_line(meta.created_at), False)}</li>"
        )
    load = f" ({esc(one_line(s.load_error or '', 300), False)})" if s.load_error else ""
    yield f"<li>meta: {esc(s.meta_status)} · daemon load: {esc(s.load_status)}{load}</li>"
    c = s.kind_counts()
    yield (
        f"<li>steps: {len(s.steps)} ({c['entry']} entries, {c['event']} events, {c['compact'] + c['legacy_compact']} compacts, "
        f"{c['unparsable']} unparsable, {c['unreadable']} unreadable) · next step {s.next_step}</li>"
    )
    if s.boundary is not None:
        found = {True: "found in memory.db", False: '<span class="missing">MISSING from memory.db</span>', None: "legacy compact, no archive"}[
            s.archive_found
        ]
        yield (
            f"<li>replay starts at <a href=\"#{esc(s.boundary.name, False)}\"><code>{esc(s.boundary.name, False)}</code></a>; "
            f"archive <code>{esc(s.archive or '-', False)}</code> ({found})</li>"
        )
    yield "</ul>"
    if s.problems:
        yield f'<div class="problems"><h2>{len(s.problems)} problem{"s" if len(s.problems) != 1 else ""}</h2><ul>'
        for p in s.problems:
            where = f" <code>{esc(p.file, False)}</code>" if p.file else ""
            yield f'<li class="{esc(p.severity)}"><b>{esc(p.code)}</b>{where} {esc(one_line(p.reason, 400), False)}</li>'
        yield "</ul></div>"
    tools = ToolIndex(s.steps)
    start = s.replay_start
    if replay_only:
        if s.archive is not None:
            yield (
                f'<div class="divider replay">replayed archive <code>{esc(one_line(s.archive, 120))}</code></div>'
                f'<section class="step compact"><div class="text">{esc(s.archive_text or "")}</div></section>'
            )
        for _i, st in read_ahead(s.steps, s.replay_indices):
            yield step_html(st, tools, True, s.memory)
    else:
        if start > 0:
            yield f'<div class="divider">not replayed: before the last compact boundary, <code>{esc(s.steps[start].name, False)}</code></div>'
        for i, st in read_ahead(s.steps):
            if i == start and start > 0:
                yield '<div class="divider replay">replayed from here</div>'
            replayed = s.is_replayed(i) or (st.kind != m.KIND_ENTRY and i >= start and s.load_status == "ok")
            yield step_html(st, tools, replayed, s.memory)
    yield "</body></html>"


def iter_session_html(s: "Session", replay_only: bool = False) -> Iterator[str]:
    """``session_html`` in pieces, one step at a time (their join is it)."""
    for line in _html_lines(s, replay_only):
        yield line + "\n"


def session_html(s: "Session", replay_only: bool = False) -> str:
    """The whole session (or only what the daemon replays) as one HTML page."""
    return "".join(iter_session_html(s, replay_only))
