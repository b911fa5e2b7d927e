"""Turn decoded steps into words, once, for every output.

The TUI, ``show``, ``tail``, ``export`` and the FUSE files all call these
functions, so a step reads the same everywhere. All text is passed through
``safe.visible``: nothing from a store reaches a terminal raw.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import msgspec

from ..store import models as m
from ..store.layout import TMP_MARK, step_number
from ..store.session import LAZY, read_ahead
from .jsonenc import StreamList, StreamObject, dumps, pretty
from .pieces import Pieces
from .safe import one_line, visible

if TYPE_CHECKING:  # pragma: no cover
    from ..store.session import Session, StepFile

KIND_GLYPH = {
    m.KIND_ENTRY: "●",
    m.KIND_EVENT: "◆",
    m.KIND_COMPACT: "═",
    m.KIND_LEGACY: "≡",
    m.KIND_UNPARSABLE: "✗",
    m.KIND_UNREADABLE: "⊘",
}


# what one rendering of a free-form value may grow to (the TUI caps what it
# shows far below this; show/export/mount end it with a visible note)
RENDER_CAP = 4_000_000


def _json(v: Any, indent: int | None = None, cap: int = RENDER_CAP) -> str:
    """A free-form value as inert JSON text for people: iterative,
    depth-capped, and cut with a visible note past ``cap`` characters."""
    return pretty(v, indent, max_chars=cap)


def fmt_int(n: int) -> str:
    return f"{n:,}"


# --- tool pairing -----------------------------------------------------------


class ToolIndex:
    """call id -> (tool name, input, step file) from every tool_use in a session."""

    def __init__(self, steps: Iterable["StepFile"] = ()):
        self.calls: dict[str, tuple[str, Any, str]] = {}
        sources: dict[int, Any] = {}
        for s in steps:
            src = getattr(s, "source", None)
            if src is not None and s.stored is LAZY:
                # values of big sessions live on disk; their loader kept the calls
                sources[id(src)] = src
                continue
            self.add(s)
        for src in sources.values():
            for call_id, call in src.tool_calls.items():
                self.calls.setdefault(call_id, call)

    def add(self, s: "StepFile") -> None:
        v = s.value
        if type(v) is m.HistoryEntry:
            for b in v.message.content:
                if type(b) is m.ToolUseBlock:
                    self.calls[b.id] = (b.name, b.input, s.name)
        elif type(v) is m.ToolStartEvent:
            for c in v.calls:
                self.calls.setdefault(c.id, (c.name, c.arguments, s.name))

    def name_of(self, call_id: str) -> str | None:
        c = self.calls.get(call_id)
        return c[0] if c else None


# --- one-line summaries ----------------------------------------------------------


def role_of(step: "StepFile") -> str:
    """Role for entries, event name for events, the kind otherwise."""
    v = step.value
    if type(v) is m.HistoryEntry:
        role = visible(v.message.role, multiline=False)
        return f"{role}@{visible(v.agent, multiline=False)}" if v.agent else role
    if v is not None and step.kind == m.KIND_EVENT:
        return v.__struct_config__.tag  # type: ignore[attr-defined]
    return step.kind


def _args_short(inp: Any, width: int = 60) -> str:
    if isinstance(inp, dict):
        parts = []
        size = 0
        for k, v in inp.items():
            parts.append(f"{k}={_json(v, cap=width * 2) if not isinstance(v, str) else v[: width * 2]}")
            size += len(parts[-1])
            if size > width * 2:
                break
        return one_line(", ".join(parts), width)
    return one_line(_json(inp, cap=width * 2), width)


def content_text(c: Any, indent: int | None = None) -> str:
    """A tool result's content as text: a string as it is; a list of blocks
    as text blocks' text and nested tool results' content, in order, with
    any other block as JSON (pretty with ``indent``). Iterative: results
    can nest results."""
    if isinstance(c, str):
        return c
    out: list[str] = []
    stack = list(reversed(c)) if isinstance(c, list) else [c]
    while stack:
        b = stack.pop()
        t = type(b)
        if t is m.TextBlock:
            out.append(b.text)
        elif t is m.ToolResultBlock:
            if isinstance(b.content, str):
                out.append(b.content)
            else:
                stack.extend(reversed(b.content))
        elif isinstance(b, str):
            out.append(b)
        else:
            out.append(_json(msgspec.to_builtins(b) if isinstance(b, msgspec.Struct) else b, indent))
    return "\n".join(out)


def result_name(b: "m.ToolResultBlock", tools: "ToolIndex | None") -> str | None:
    """The tool a result belongs to: its own ``name``, else its call's."""
    if b.name:
        return b.name
    return tools.name_of(b.tool_use_id) if tools else None


def block_summary(b: Any, tools: ToolIndex | None = None) -> str:
    t = type(b)
    if t is m.TextBlock:
        return one_line(b.text, 120)
    if t is m.ThinkingBlock:
        return "[thinking] " + one_line(b.thinking, 60)
    if t is m.ToolUseBlock:
        return f"→ {one_line(b.name, 40)}({_args_short(b.input)})"
    if t is m.ToolResultBlock:
        name = result_name(b, tools)
        label = f"{one_line(name, 40)} " if name else ""
        return f"← {label}result: {one_line(content_text(b.content), 80)}"
    if t is m.ImageBlock:
        return "[image]"
    return one_line(repr(b), 60)


def summary(step: "StepFile", tools: ToolIndex | None = None, width: int = 160) -> str:
    """One line describing a step, for timelines and ``tail``."""
    v = step.value
    t = type(v)
    if step.kind == m.KIND_UNPARSABLE:
        at = f" (byte {step.offset})" if step.offset is not None else ""
        return one_line(f"unparsable, skipped: {step.error}{at}", width)
    if step.kind == m.KIND_UNREADABLE:
        return one_line(f"unreadable: {step.error}", width)
    if t is m.HistoryEntry:
        parts = [block_summary(b, tools) for b in v.message.content] or ["(empty)"]
        return one_line(" · ".join(parts), width)
    if t is m.Compact:
        return one_line(f"compact → archive {v.archive_name} at {v.archived_at}", width)
    if t is m.LegacyCompact:
        title = f" “{v.title}”" if v.title else ""
        return one_line(f"legacy compact{title}: {v.compact}", width)
    if t is m.ToolStartEvent:
        calls = ", ".join(f"{c.name}({one_line(c.arguments, 40)})" for c in v.calls)
        return one_line(f"tool_start {calls}", width)
    if t is m.ToolResultEvent:
        name = tools.name_of(v.call_id) if tools else None
        label = f" {name}" if name else ""
        return one_line(f"tool_result{label} {v.call_id} in {fmt_int(v.duration_ms)} ms", width)
    if t is m.DoneEvent:
        u = v.usage
        return one_line(
            f"done {v.model} · {v.iterations} iter · {v.stop_reason} · {fmt_int(u.total_tokens)} tok "
            f"({fmt_int(u.prompt_tokens)} in / {fmt_int(u.completion_tokens)} out)",
            width,
        )
    if t is m.UserSteeredEvent:
        return one_line(f"user steered: {v.content}", width)
    return one_line(repr(v), width)


# --- full text ------------------------------------------------------------------


def block_text(b: Any, tools: ToolIndex | None = None) -> str:
    t = type(b)
    if t is m.TextBlock:
        return visible(b.text)
    if t is m.ThinkingBlock:
        sig = f" (signed {one_line(b.signature, 24)})" if b.signature else ""
        return f"[thinking{sig}]\n{visible(b.thinking)}"
    if t is m.ToolUseBlock:
        return f"[tool_use {one_line(b.name)} id={one_line(b.id)}]\n{visible(_json(b.input, 2))}"
    if t is m.ToolResultBlock:
        name = result_name(b, tools)
        label = f" of {one_line(name)}" if name else ""
        return f"[tool_result{label} id={one_line(b.tool_use_id)}]\n{visible(content_text(b.content))}"
    if t is m.ImageBlock:
        return f"[image] {one_line(_json(b.source, cap=1000), 120)}"
    return visible(repr(b))


def step_text(step: "StepFile", tools: ToolIndex | None = None, archive: str | None = None) -> str:
    """The full human text of a step (plain, multi-line, inert)."""
    v = step.value
    t = type(v)
    if step.kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):
        return summary(step, tools, width=10_000)
    if t is m.HistoryEntry:
        head = role_of(step)
        body = "\n\n".join(block_text(b, tools) for b in v.message.content)
        return f"{head}:\n{body}"
    if t is m.Compact:
        text = f"compact boundary: archive {visible(v.archive_name, multiline=False)} (archived {visible(v.archived_at, multiline=False)})"
        if archive is not None:
            text += "\n\n" + visible(archive)
        return text
    if t is m.LegacyCompact:
        title = f" “{visible(v.title, multiline=False)}”" if v.title else ""
        return f"legacy compact{title} (archived {visible(v.archived_at, multiline=False) or '?'}); inline summary, not an archive:\n\n{visible(v.compact)}"
    if t is m.ToolStartEvent:
        lines = [f"tool_start at {visible(v.ts, multiline=False)}"]
        for c in v.calls:
            lines.append(f"  {one_line(c.name)} id={one_line(c.id)} {visible(c.arguments)}")
        return "\n".join(lines)
    if t is m.DoneEvent:
        u = v.usage
        lines = [
            f"done at {visible(v.ts, multiline=False)}: model {visible(v.model, multiline=False)}, {v.iterations} iterations, stop: {visible(v.stop_reason, multiline=False)}",
            f"  prompt {fmt_int(u.prompt_tokens)} · completion {fmt_int(u.completion_tokens)} · total {fmt_int(u.total_tokens)}",
        ]
        reasoning = u.completion_tokens_details.reasoning_tokens if u.completion_tokens_details is not None else None
        if reasoning is not None:
            lines.append(f"  reasoning {fmt_int(reasoning)} of the completion tokens")
        if u.prompt_cache_hit_tokens is not None or u.prompt_cache_miss_tokens is not None:
            lines.append(f"  cache hit {fmt_int(u.prompt_cache_hit_tokens or 0)} · miss {fmt_int(u.prompt_cache_miss_tokens or 0)}")
        return "\n".join(lines)
    return summary(step, tools, width=10_000)


# --- JSON views (the show --json contract) ---------------------------------------


def value_builtins(v: Any) -> Any:
    """A decoded value as plain JSON data, with the variant named."""
    if v is None:
        return None
    return msgspec.to_builtins(v)


def step_json(
    step: "StepFile", session: "Session | None" = None, index: int | None = None, facts: "tuple[int, int, bool] | None" = None
) -> dict[str, Any]:
    """One step's ``show --json`` object. ``facts``: (replay start, boundary
    index or -1, load ok) of ``session``, computed once by a caller that
    renders many steps (they are the same for every step)."""
    name = step.name
    v = step.value
    d: dict[str, Any] = {
        "file": name,
        "number": int(name[5:]) if len(name) == 11 and name[5:].isascii() and name[5:].isdigit() else step_number(name),
        "kind": step.kind,
        "error": step.error,
        "offset": step.offset,
        "size": step.size,
        "tmp": TMP_MARK in name,
        "notes": list(step.notes),
        "value": None if v is None else msgspec.to_builtins(v),
    }
    if step.kind == m.KIND_EVENT:
        d["event"] = v.__struct_config__.tag
    if session is not None and index is not None:
        if facts is None:
            facts = replay_facts(session)
        start, boundary, ok = facts
        d["replayed"] = ok and index >= start and step.kind == m.KIND_ENTRY
        d["boundary"] = boundary == index
    if step.variants:
        d["variants"] = [{"variant": n, "error": e, "offset": o} for n, e, o in step.variants]
    return d


def session_json_fields(s: "Session", steps: Any) -> Iterator[tuple[str, Any]]:
    """The ``show --json`` object's (key, value) pairs in contract order,
    with ``steps`` as given (a list, or a StreamList for streaming)."""
    yield "slug", s.slug
    yield "path", str(s.path)
    yield "listed", s.listed
    yield "meta_status", s.meta_status
    yield "meta_error", s.meta_error
    yield "meta", value_builtins(s.meta)
    yield "load", s.load_status
    yield "load_error", s.load_error
    yield "steps", steps
    yield "replay_files", [s.steps[i].name for i in s.replay_indices]
    yield "replay_start", s.boundary.name if s.boundary else None
    yield "archive", s.archive
    yield "archive_found", s.archive_found
    yield "next_step", s.next_step
    yield "counts", s.kind_counts()
    yield "usage", s.usage_totals()
    yield "problems", [msgspec.to_builtins(p) for p in s.problems]


def replay_facts(s: "Session") -> tuple[int, int, bool]:
    """(replay start, boundary index or -1, whether the daemon's load succeeds): what ``is_replayed`` asks."""
    return s.replay_start, s.boundary.index if s.boundary is not None else -1, s.load_status == "ok"


def iter_step_json(s: "Session", replay_only: bool = False) -> Iterator[dict[str, Any]]:
    """One ``step_json`` per step file (only the replayed ones with
    ``replay_only``), made as they are asked for."""
    facts = replay_facts(s)
    for i, st in read_ahead(s.steps, s.replay_indices if replay_only else None):
        yield step_json(st, s, i, facts)


def session_json(s: "Session") -> dict[str, Any]:
    """The ``show --json`` object (field names are a contract)."""
    return dict(session_json_fields(s, list(iter_step_json(s))))


def session_json_stream(s: "Session", replay_only: bool = False) -> StreamObject:
    """``session_json`` for the streaming encoder: steps are rendered one
    at a time while the document is written. ``replay_only`` keeps the
    replayed steps and adds the archive's content (``show --json --replay``)."""

    def pairs() -> Iterator[tuple[str, Any]]:
        yield from session_json_fields(s, StreamList(iter_step_json(s, replay_only)))
        if replay_only:
            yield "archive_content", s.archive_text

    return StreamObject(pairs())


# --- Markdown (transcript.md and export) --------------------------------------------


_BACKTICKS = re.compile(r"`+")


# A line of message text that would start a block of the transcript's own
# kinds (a heading, a rule or setext underline, a quote, a fence, a list or
# emphasis that looks like an event line): escaped, so store text cannot
# forge a step heading, a compact boundary or an "unparsable" note, nor
# swallow the rest of the transcript in an unclosed fence.
_BLOCK_START = re.compile(r"^( {0,3})(?=[#>*_=+\-`~|])", re.M)


def _md(text: str, line: bool = False) -> str:
    """Untrusted text as Markdown that shows exactly what it says: control
    characters visible, no raw HTML (``<script>``, ``</details>``,
    comments) for a Markdown viewer to run, hide or close a block with, and
    no line that starts a block of the transcript's own structure."""
    t = one_line(text, 10**6) if line else visible(text)
    t = t.replace("&", "&amp;").replace("<", "&lt;")
    return t if line else _BLOCK_START.sub(r"\1\\", t)


def _longest_tick_run(text: str) -> int:
    return max((len(x) for x in _BACKTICKS.findall(text)), default=0)


def _code(text: str) -> str:
    """An inline code span that no backtick in ``text`` can close early."""
    t = one_line(text, 300)
    fence = "`" * (_longest_tick_run(t) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _fenced(text: str, lang: str = "") -> str:
    """A fenced block longer than any backtick run inside, so content is never altered."""
    t = visible(text)
    fence = "`" * max(3, _longest_tick_run(t) + 1)
    return f"{fence}{lang}\n{t}\n{fence}"


def _md_block(b: Any, tools: ToolIndex) -> str:
    t = type(b)
    if t is m.TextBlock:
        return _md(b.text)
    if t is m.ThinkingBlock:
        return "<details><summary>thinking</summary>\n\n" + _quote(_md(b.thinking)) + "\n\n</details>"
    if t is m.ToolUseBlock:
        return f"**tool call** {_code(b.name)} ({_code(b.id)})\n\n{_fenced(_json(b.input, 2), 'json')}"
    if t is m.ToolResultBlock:
        name = result_name(b, tools)
        label = f" of {_code(name)}" if name else ""
        return f"**tool result**{label} ({_code(b.tool_use_id)})\n\n{_fenced(content_text(b.content))}"
    if t is m.ImageBlock:
        return "*[image]*"
    return _md(repr(b))


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.split("\n"))


def step_markdown(step: "StepFile", tools: ToolIndex, archive_text: str | None = None) -> str:
    v = step.value
    t = type(v)
    name = _code(step.name)
    if step.kind == m.KIND_UNPARSABLE:
        at = f" at byte {step.offset}" if step.offset is not None else ""
        return f"> **✗ {name}: unparsable, the daemon skips it**{at}\n> {_md(one_line(step.error or '', 400), line=True)}"
    if step.kind == m.KIND_UNREADABLE:
        return f"> **⊘ {name}: unreadable, the daemon cannot load this session**\n> {_md(one_line(step.error or '', 400), line=True)}"
    if t is m.HistoryEntry:
        who = _md(role_of(step), line=True)
        body = "\n\n".join(_md_block(b, tools) for b in v.message.content)
        tmp = "\n\n*a whole leftover tmp file: the daemon loads it like any step*" if step.is_tmp else ""
        return f"### {who} · {name}{tmp}\n\n{body}"
    if t is m.Compact:
        text = (
            f"---\n\n## ═ compact boundary · {name} · archive {_code(v.archive_name)} · {_md(v.archived_at, line=True)}\n\n"
            "*Nothing above this line is replayed; a resume from here prepends this archive:*"
        )
        if archive_text is not None:
            text += "\n\n" + _quote(_md(archive_text))
        return text + "\n\n---"
    if t is m.LegacyCompact:
        title = f" “{_md(v.title, line=True)}”" if v.title else ""
        return (
            f"---\n\n## ≡ legacy compact{title} · {name} (inline summary, no archive)\n\n"
            f"*Nothing above this line is replayed; a resume from here prepends nothing.*\n\n{_quote(_md(v.compact))}\n\n---"
        )
    return f"*◆ {name} {_md(summary(step, tools), line=True)}*"


def markdown_pieces(s: "Session", replay_only: bool = False) -> Pieces:
    """The session's Markdown (``transcript.md`` and ``export --format md``)
    as a head and one piece per step shown.

    Append-only by design, so ``tail -f transcript.md`` on the mount shows
    new steps and nothing else: the header holds only what never changes
    (counts, titles and problems live in meta.json and problems.txt), and
    the not-replayed part is labelled at each compact boundary ("nothing
    above is replayed"), which stays true when later boundaries arrive.
    Lines are joined by newlines: each step's piece is its block between
    two of them.
    """
    meta = s.meta
    head = [f"# {_code(s.slug)}", ""]
    if meta is not None:
        head.append(f"agent {_md(meta.agent, line=True)} · created by {_md(meta.created_by, line=True)} · {_md(meta.created_at, line=True)}")
    else:
        head.append(f"meta {s.meta_status}: {_md(one_line(s.meta_error or '', 300), line=True)} — the daemon cannot load this session")
    head.append("")
    steps = list(s.steps)  # a snapshot: refresh edits the session's list in place
    tools = ToolIndex(steps)
    if replay_only:
        head.append("What the daemon would replay on resume, in order.\n")
        if s.archive is not None:
            found = "" if s.archive_found else " (missing from memory.db: the daemon injects this placeholder)"
            head.append(f"## archive {_code(s.archive)}{found}\n\n{_quote(_md(s.archive_text or ''))}\n")

        def replayed(_i: int, st: "StepFile") -> str:
            return "\n" + step_markdown(st, tools) + "\n"

        return Pieces("\n".join(head), steps, list(s.replay_indices), replayed)
    head.append(
        "Every step file in the daemon's load order. A resume replays only the entries after the "
        "last compact boundary (═), prepending its archive; unparsable steps (✗) are skipped.\n"
    )
    memory = s.memory

    def any_step(_i: int, st: "StepFile") -> str:
        archive_text = None
        v = st.stored  # compacts are always in memory (never LAZY)
        if type(v) is m.Compact and memory is not None:
            e = memory.resolve(v.archive_name)
            archive_text = e.content if e is not None else f"[archived context unavailable: {v.archive_name}]"
        return "\n" + step_markdown(st, tools, archive_text) + "\n"

    return Pieces("\n".join(head), steps, range(len(steps)), any_step)


def iter_session_markdown(s: "Session", replay_only: bool = False) -> Iterator[str]:
    """``session_markdown`` in pieces, one step at a time (their join is it)."""
    return iter(markdown_pieces(s, replay_only))


def session_markdown(s: "Session", replay_only: bool = False) -> str:
    """The whole session as Markdown (``transcript.md`` and ``export --format md``);
    see ``markdown_pieces`` for its shape."""
    return "".join(iter_session_markdown(s, replay_only))


def replay_pieces(s: "Session") -> Pieces:
    """What the daemon would replay, one JSON line per piece: the archive
    (or its placeholder) as the head (empty without one), then entries."""
    head = ""
    if s.archive is not None:
        head = dumps({"archive": s.archive, "found": bool(s.archive_found), "content": s.archive_text}) + "\n"

    def entry(_i: int, st: "StepFile") -> str:
        return dumps({"file": st.name, "entry": msgspec.to_builtins(st.value)}) + "\n"

    return Pieces(head, list(s.steps), list(s.replay_indices), entry)


def iter_replay_jsonl(s: "Session") -> Iterator[str]:
    """What the daemon would replay, one JSON line at a time."""
    return (p for p in replay_pieces(s) if p)


def replay_jsonl(s: "Session") -> str:
    """What the daemon would replay: the archive (or its placeholder), then entries."""
    return "".join(iter_replay_jsonl(s))
