"""The detail pane: decoded / raw / bytes views of the selected step.

Decoded views are built from the already-decoded value (no IO); raw and
bytes views get the file's bytes from the app's ``read_step_bytes`` worker.
Everything is capped so a 50 MB step opens truncated, with a note.
"""

from __future__ import annotations

import json
from typing import Any

from markdown_it import MarkdownIt
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Collapsible, Markdown, Static, TabbedContent, TabPane

from ...render.files import salvage_notes
from ...render.jsonenc import pretty
from ...render.safe import one_line, visible
from ...render.text import ToolIndex, content_text, fmt_int, role_of, step_text
from ...store import models as m
from ...store.jsonparse import line_col
from ..model import META_INDEX, TimelineModel

TEXT_CAP = 100_000  # characters shown of one text
MARKDOWN_CAP = 20_000  # above this, plain text (Markdown parsing is slow)
RAW_CAP = 200_000  # bytes shown pretty-printed
HEX_HEAD = 2048  # bytes of hex shown from the start
HEX_WINDOW = 512  # bytes either side of the error offset
SYNTAX_THEME = "ansi_dark"


def inert_markdown_parser() -> MarkdownIt:
    """Textual's gfm-like parser with raw HTML off.

    With HTML on, markdown-it turns ``<div>…</div>``, ``<b>``, comments and
    ``<details>`` into html tokens that Textual's Markdown drops, so untrusted
    text would vanish; with it off they stay literal text.
    """
    return MarkdownIt("gfm-like", {"html": False})


def capped(text: str, cap: int = TEXT_CAP) -> tuple[str, str | None]:
    if len(text) <= cap:
        return visible(text), None
    return visible(text[:cap]), f"… truncated: showing {fmt_int(cap)} of {fmt_int(len(text))} characters"


def note(text: str, style: str = "italic yellow") -> Static:
    return Static(Text(text, style=style), classes="note")


def _json(v: Any) -> str:
    return pretty(v, 2, max_chars=RAW_CAP * 2)  # iterative and capped: any depth, any size


def text_widget(text: str, markdown: bool) -> list[Any]:
    shown, trunc = capped(text)
    out: list[Any] = []
    if trunc:  # the note goes first: after 100k characters nobody would see it
        out.append(note(trunc))
    if markdown and len(shown) <= MARKDOWN_CAP:
        out.append(Markdown(shown, open_links=False, classes="md", parser_factory=inert_markdown_parser))
    else:
        out.append(Static(Text(shown), classes="plain"))
    return out


def json_widget(value: Any) -> list[Any]:
    shown, trunc = capped(_json(value), RAW_CAP)
    out: list[Any] = [note(trunc)] if trunc else []
    out.append(Static(Syntax(shown, "json", theme=SYNTAX_THEME, word_wrap=True, background_color="default"), classes="json"))
    return out


def decoded_widgets(model: TimelineModel, i: int) -> list[Any]:
    """The decoded view of step ``i`` as a list of widgets."""
    st = model.steps[i]
    s = model.session
    v = st.value
    tools: ToolIndex = model.tools
    head = Text()
    head.append(one_line(st.name, 60), style="bold")
    head.append(f"  {st.kind}", style="bold magenta" if st.decoded else "bold red")
    if st.decoded:
        head.append(f" · {role_of(st)}")
    head.append(f" · {fmt_int(st.size)} bytes")
    if st.kind == m.KIND_ENTRY:
        if i < model.replay_start:
            head.append(" · not replayed (before the last compact boundary)", style="bright_black italic")
        elif model.load_status == "pending":
            head.append(" · replay not known yet (the rest of the session is still being read)", style="yellow italic")
        elif model.load_status != "ok":
            head.append(" · not replayed (the daemon's load of this session fails)", style="red")
        else:
            head.append(" · replayed on resume", style="green")
    out: list[Any] = [Static(head, classes="head")]
    for n in st.notes:
        out.append(note(f"lenient: {one_line(n, 300)}", "cyan italic"))
    if st.is_tmp:
        out.append(note("leftover tmp file from an interrupted write: " + ("the daemon loads it anyway (its name starts with step-)" if st.decoded else "the daemon skips it")))
    t = type(v)
    if st.kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):
        t2 = Text()
        if st.kind == m.KIND_UNPARSABLE:
            t2.append("The daemon skips this file on resume (a log warning, nothing else).\n", style="bold red")
            t2.append(f"reason: {visible(st.error or '?', multiline=False)}\n")
            if st.offset is not None:
                t2.append(f"error at byte {st.offset}\n", style="red")
        else:
            t2.append("The daemon cannot read this entry: loading the whole session fails.\n", style="bold red reverse")
            t2.append(f"reason: {visible(st.error or '?', multiline=False)}\n")
        for name, err, off in st.variants:
            t2.append(f"  as {name}: {one_line(err, 200)} (byte {off})\n", style="bright_black")
        t2.append("Press b for the bytes and what can be salvaged, r for the raw text.", style="italic")
        out.append(Static(t2, classes="plain"))
        return out
    if t is m.HistoryEntry:
        for b in v.message.content:
            bt = type(b)
            if bt is m.TextBlock:
                out.extend(text_widget(b.text, markdown=True))
            elif bt is m.ThinkingBlock:
                body, trunc = capped(b.thinking)
                inner = [note(trunc)] if trunc else []
                inner.append(Static(Text(body, style="italic"), classes="plain"))
                sig = " · signed" if b.signature else ""
                out.append(Collapsible(*inner, title=f"thinking ({fmt_int(len(b.thinking))} chars{sig})", collapsed=True))
            elif bt is m.ToolUseBlock:
                out.append(Static(Text(f"→ tool call {one_line(b.name, 60)}  id={one_line(b.id, 60)}", style="bold blue"), classes="head"))
                out.extend(json_widget(b.input))
            elif bt is m.ToolResultBlock:
                call = tools.calls.get(b.tool_use_id)
                label = Text("← result", style="bold blue")
                if call is not None:
                    label.append(f" of {one_line(call[0], 60)}", style="bold blue")
                    label.append(f" (called in {one_line(call[2], 40)})", style="bright_black")
                elif model.partial is not None:  # the call may be in the part not read yet
                    label.append(f" of {one_line(b.name, 60) if b.name else 'a call'} (not among the steps read so far)", style="yellow")
                elif b.name:
                    label.append(f" of {one_line(b.name, 60)} (no call with this id)", style="yellow")
                else:
                    label.append(" of an unknown call", style="yellow")
                label.append(f"  id={one_line(b.tool_use_id, 60)}", style="bright_black")
                out.append(Static(label, classes="head"))
                if call is not None:
                    out.append(Static(Text(f"input: {one_line(_json(call[1]), 200)}", style="bright_black"), classes="plain"))
                out.extend(text_widget(content_text(b.content, indent=2), markdown=False))
            elif bt is m.ImageBlock:
                out.append(Static(Text(f"[image] {one_line(_json(b.source), 200)}"), classes="plain"))
        return out
    if t is m.Compact:
        mem = s.memory
        entry = mem.resolve(v.archive_name) if mem is not None else None
        hdr = Text()
        hdr.append(f"compact boundary → archive {visible(v.archive_name, multiline=False)} (archived {visible(v.archived_at, multiline=False)})\n", style="bold yellow")
        if model.boundary_index == i and model.load_status == "pending":
            hdr.append("The last boundary read so far: if the rest of the session loads, the daemon starts here on resume and prepends the archive below.\n", style="yellow")
        elif model.boundary_index == i and model.load_status != "ok":
            hdr.append("The last boundary, but the daemon's load of this session fails: nothing is replayed and no archive is prepended.\n", style="red")
        elif model.boundary_index == i:
            hdr.append("This is the replay boundary: on resume the daemon starts here and prepends the archive below.\n")
        else:
            hdr.append("An earlier boundary: a later compact supersedes it, nothing before that one is replayed.\n", style="bright_black")
        out.append(Static(hdr, classes="head"))
        if entry is not None:
            out.append(note(f"archive content from memory.db (entry {entry.id}, {entry.kind}):", "green italic"))
            out.extend(text_widget(entry.content, markdown=True))
        else:
            why = "memory.db is unreadable" if (mem is not None and mem.status == "unreadable") else "memory.db has no entry by that name"
            out.append(note(f"{why}; the daemon injects this text instead{' (if it resumes from here)' if model.boundary_index != i or model.load_status != 'ok' else ''}:", "bold red"))
            out.append(Static(Text(f"[archived context unavailable: {visible(v.archive_name, multiline=False)}]"), classes="plain"))
        return out
    if t is m.LegacyCompact:
        out.append(Static(Text(f"legacy compact{' “' + one_line(v.title, 60) + '”' if v.title else ''} · archived {one_line(v.archived_at, 40) or '?'}", style="bold yellow"), classes="head"))
        if model.boundary_index != i:
            out.append(note("an old-style boundary, superseded by a later one: nothing before that one is replayed"))
        elif model.load_status == "pending":
            out.append(note("an old-style boundary (the summary is inline, not an archive): replay restarts here if the rest of the session loads"))
        elif model.load_status != "ok":
            out.append(note("an old-style boundary, the last one, but the daemon's load of this session fails: nothing is replayed"))
        else:
            out.append(note("an old-style boundary: the summary is inline, not an archive; replay restarts here without prepending anything"))
        out.extend(text_widget(v.compact, markdown=True))
        return out
    if t is m.ToolResultEvent:
        call = tools.calls.get(v.call_id)
        txt = Text(f"tool_result event at {visible(v.ts, multiline=False)}: call {visible(v.call_id, multiline=False)} took {fmt_int(v.duration_ms)} ms")
        if call is not None:
            txt.append(f"\n  tool {one_line(call[0], 60)} (called in {call[2]}) input: {one_line(_json(call[1]), 200)}", style="blue")
        out.append(Static(txt, classes="plain"))
        return out
    if t is m.ToolStartEvent:
        out.append(Static(Text(step_text(st, tools)), classes="plain"))
        for c in v.calls:
            try:
                args = json.loads(c.arguments)
            except ValueError:
                args = c.arguments
            out.append(Static(Text(f"{one_line(c.name, 60)} ({one_line(c.id, 60)})", style="bold blue"), classes="head"))
            out.extend(json_widget(args))
        return out
    out.append(Static(Text(step_text(st, tools)), classes="plain"))
    out.append(note("events are never replayed", "bright_black italic"))
    return out


SEVERITY_TEXT = {"error": "bold red", "warning": "yellow", "info": "cyan italic"}


def meta_widgets(model: TimelineModel) -> list[Any]:
    """The meta row's detail: the daemon's verdict, the reason and byte, the fields, session-level problems."""
    s = model.session
    head = Text()
    head.append("meta", style="bold")
    head.append(f"  {model.meta_status}", style="bold green" if model.meta_status == "ok" else "bold red")
    out: list[Any] = [Static(head, classes="head")]
    t = Text()
    if model.meta_status == "ok":
        t.append("The daemon reads this meta" + (" and lists the session.\n" if model.listed else "; its listing still skips the session.\n"))
        meta = model.meta
        for key in ("agent", "created_by", "created_at", "updated_at", "title", "message_count", "summary"):
            v = getattr(meta, key)
            t.append(f"  {key:<14}", style="bright_black")
            t.append(one_line("" if v is None else str(v), 300) + "\n")
        for n in model.meta_notes:
            t.append(f"lenient: {one_line(n, 300)}\n", style="cyan italic")
    else:
        verdict = {
            "missing": "No meta: the daemon treats the session as absent (load returns nothing, the listing hides it).",
            "corrupt": "The meta does not decode: the daemon's load fails and its listing hides the session.",
            "unreadable": "The meta cannot be read: the daemon's load fails and its listing hides the session.",
        }.get(model.meta_status, model.meta_status)
        t.append(verdict + "\n", style="bold red")
        t.append(f"reason: {visible(model.meta_error or '?', multiline=False)}\n")
        if model.meta_offset is not None:
            t.append(f"error at byte {model.meta_offset}\n", style="red")
        t.append("Press b for the bytes and what can be salvaged, r for the raw text.\n", style="italic")
    out.append(Static(t, classes="plain"))
    if model.meta_problems:
        pt = Text()
        pt.append("session problems:\n", style="bold")
        for p in model.meta_problems:
            pt.append(f"  {p.severity:<8}", style=SEVERITY_TEXT.get(p.severity, "bold red"))
            pt.append(f"{p.code}  ", style="bold")
            pt.append(f"{one_line(p.file or '', 60)} {one_line(p.reason, 300)}\n")
        out.append(Static(pt, classes="plain"))
    del s
    return out


class _MetaFile:
    """The meta file seen as a step, for the bytes and salvage views."""

    def __init__(self, model: TimelineModel):
        self.name = "meta"
        self.kind = "meta"
        self.offset = model.meta_offset if model.meta_status == "corrupt" else None
        self.error = model.meta_error
        self.bad = model.meta_status == "corrupt"


SALVAGE_MIN = 34  # columns the salvage view needs beside the hex


def hex_width(per_row: int) -> int:
    """Cells of one hex row: offset, the bytes (a gap every 8), the text column and its edges."""
    return 10 + per_row * 3 + max(0, (per_row - 1) // 8) + 2 + per_row + 1


def hex_layout(width: int, salvage: bool) -> tuple[int, bool]:
    """Bytes per row (a multiple of 4, up to 32) that fit ``width``; and whether the salvage view goes below."""
    stacked = salvage and width - SALVAGE_MIN < hex_width(8)
    room = width if (stacked or not salvage) else width - SALVAGE_MIN
    per_row = 4
    for n in (32, 24, 16, 12, 8, 4):
        if hex_width(n) <= room - 2:
            per_row = n
            break
    return per_row, stacked


def hex_view(data: bytes, error_offset: int | None, per_row: int = 16) -> Text:
    """Hex + text of the start of ``data`` and the window around the error."""
    spans: list[tuple[int, int]] = [(0, min(len(data), HEX_HEAD))]
    if error_offset is not None and error_offset >= HEX_HEAD:
        lo = max(HEX_HEAD, (error_offset - HEX_WINDOW) // per_row * per_row)
        spans.append((lo, min(len(data), error_offset + HEX_WINDOW)))
    out = Text()
    if len(data) > spans[-1][1] or len(spans) > 1:
        shown = sum(hi - lo for lo, hi in spans)
        out.append(f"{fmt_int(len(data))} bytes; showing {fmt_int(shown)} of them", style="italic yellow")
        out.append(" (the start and the error's surroundings)\n" if len(spans) > 1 else " (the start)\n", style="italic yellow")
    elif error_offset is not None:
        out.append(f"{fmt_int(len(data))} bytes · error at byte {error_offset}\n", style="italic")
    prev_end = 0
    for lo, hi in spans:
        if lo > prev_end:
            out.append(f"… {fmt_int(lo - prev_end)} bytes not shown …\n", style="italic yellow")
        for off in range(lo, hi, per_row):
            chunk = data[off : min(off + per_row, hi)]
            out.append(f"{off:08x}  ", style="bright_black")
            for k in range(per_row):
                if k < len(chunk):
                    style = "bold white on red" if error_offset == off + k else ""
                    out.append(f"{chunk[k]:02x}", style=style)
                else:
                    out.append("  ")
                out.append("  " if k % 8 == 7 and k != per_row - 1 else " ")
            out.append(" │", style="bright_black")
            for k, byte in enumerate(chunk):
                ch = chr(byte) if 0x20 <= byte < 0x7F else "·"
                style = "bold white on red" if error_offset == off + k else ("" if 0x20 <= byte < 0x7F else "bright_black")
                out.append(ch, style=style)
            out.append(" " * (per_row - len(chunk)))  # a short last row keeps the text column's edge
            out.append("│\n", style="bright_black")
        prev_end = hi
    if len(data) > prev_end:
        out.append(f"… {fmt_int(len(data) - prev_end)} more bytes not shown (file is {fmt_int(len(data))} bytes)\n", style="italic yellow")
    if error_offset is not None and error_offset >= len(data):
        out.append(f"error at byte {error_offset}: the end of the file (the data stops too early)\n", style="bold red")
    return out


def raw_view(data: bytes) -> tuple[Any, str | None]:
    """Pretty JSON (syntax highlighted) if it parses, else the text as is."""
    truncated = None
    body = data
    if len(body) > RAW_CAP:
        body = body[:RAW_CAP]
        truncated = f"… truncated: showing {fmt_int(RAW_CAP)} of {fmt_int(len(data))} bytes"
    text = body.decode("utf-8", "replace")
    pretty_text = None
    if truncated is None:
        try:
            pretty_text = _json(json.loads(text))
        except (ValueError, RecursionError):
            pretty_text = None
    if pretty_text is None:
        return Syntax(visible(text), "json", theme=SYNTAX_THEME, word_wrap=True, line_numbers=True, background_color="default"), (
            truncated or "not valid JSON: shown as the file's text"
        )
    return Syntax(visible(pretty_text), "json", theme=SYNTAX_THEME, word_wrap=True, line_numbers=True, background_color="default"), None


def salvage_view(step: Any, data: bytes, salv: Any) -> Text:
    t = Text()
    t.append("salvage — NOT what the daemon sees\n", style="bold yellow")
    if step.offset is not None:
        lc = line_col(data, step.offset) if step.offset <= len(data) else None
        where = f" (line {lc[0]}, column {lc[1]})" if lc else ""
        t.append(f"decoder stops at byte {step.offset}{where}: {visible(step.error or '', multiline=False)}\n\n", style="red")
    if salv is None:
        t.append("(nothing to salvage)\n", style="italic")
        return t
    for line in salvage_notes(salv):
        t.append(line + "\n", style="italic yellow")
    if salv.json is not None:
        t.append("JSON " + ("(complete)" if salv.json_complete else "that parsed before the error") + ":\n", style="bold")
        shown, trunc = capped(_json(salv.json), 20_000)
        t.append(shown + "\n")
        if trunc:
            t.append(trunc + "\n", style="italic yellow")
    if salv.readable:
        t.append("\nreadable text runs:\n", style="bold")
        for r in salv.readable[:40]:
            t.append("  " + one_line(r, 200) + "\n")
    return t


class DetailPane(Vertical):
    """Tabs: decoded / raw / bytes."""

    ALLOW_MAXIMIZE = True  # z zooms it to the whole screen

    def on_key(self, event: events.Key) -> None:
        prompt_key = getattr(self.app, "prompt_key", None)  # `/` and `:` at paste speed (app.py)
        if prompt_key is not None:
            prompt_key(event)

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.model: TimelineModel | None = None
        self.index = -1
        self._pending: tuple[TimelineModel | None, int] | None = None
        self._timer = None
        self.bytes_for: tuple[str, str] | None = None  # (slug, name) the raw/bytes views show
        self.shown: tuple[str, str] | None = None  # (slug, name) of the decoded view

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="tab-decoded", id="detail-tabs"):
            with TabPane("decoded", id="tab-decoded"):
                yield VerticalScroll(id="decoded-body")
            with TabPane("raw", id="tab-raw"):
                with VerticalScroll(id="raw-scroll"):
                    yield Static(Text(""), id="raw-note", classes="note")
                    yield Static(Text(""), id="raw-body")
            with TabPane("bytes", id="tab-bytes"):
                with Horizontal(id="bytes-row"):
                    with VerticalScroll(id="hex-scroll"):
                        yield Static(Text(""), id="hex-body")
                    with VerticalScroll(id="salvage-scroll"):
                        yield Static(Text(""), id="salvage-body")

    @property
    def mode(self) -> str:
        active = self.query_one(TabbedContent).active
        return active.removeprefix("tab-") if active else "decoded"

    def set_mode(self, mode: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{mode}"

    def toggle(self, mode: str) -> None:
        self.set_mode("decoded" if self.mode == mode else mode)

    def show_step(self, model: TimelineModel | None, index: int) -> None:
        """Show step ``index`` of ``model`` (debounced: holding a key stays smooth)."""
        self._pending = (model, index)
        if self._timer is None:
            self._timer = self.set_timer(0.03, self._flush)

    async def _flush(self) -> None:
        self._timer = None
        if self._pending is None:
            return
        model, index = self._pending
        self._pending = None
        self.model, self.index = model, index
        body = self.query_one("#decoded-body", VerticalScroll)
        await body.remove_children()
        if model is not None and index == META_INDEX:
            self.shown = (model.slug, "meta")
            await body.mount_all(meta_widgets(model))
            body.scroll_home(animate=False)
            self._reading()
            self.app.read_step_bytes(model.slug, "meta", model.meta_status == "corrupt")  # type: ignore[attr-defined]
            return
        if model is None or not (0 <= index < len(model.steps)):
            self.shown = None
            await body.mount(Static(Text("no step selected", style="italic bright_black")))
            return
        st = model.steps[index]
        self.shown = (model.slug, st.name)
        await body.mount_all(decoded_widgets(model, index))
        body.scroll_home(animate=False)
        self._reading()
        self.app.read_step_bytes(model.slug, st.name, st.kind == m.KIND_UNPARSABLE)  # type: ignore[attr-defined]

    def _reading(self) -> None:
        self.query_one("#raw-body", Static).update(Text("reading…", style="italic bright_black"))
        self.query_one("#raw-note", Static).update(Text(""))
        self.query_one("#hex-body", Static).update(Text("reading…", style="italic bright_black"))
        self.query_one("#salvage-body", Static).update(Text(""))

    def show_bytes(self, slug: str, name: str, data: bytes | None, error: str | None, salv: Any) -> None:
        if self.model is None:
            return
        if self.index == META_INDEX:
            st: Any = _MetaFile(self.model)
        elif 0 <= self.index < len(self.model.steps):
            st = self.model.steps[self.index]
        else:
            return
        if (self.model.slug, st.name) != (slug, name):
            return  # a late answer for a step no longer shown
        self.bytes_for = (slug, name)
        raw_note = self.query_one("#raw-note", Static)
        if data is None:
            msg = Text(f"cannot read {one_line(name, 60)}: {visible(error or '?', multiline=False)}", style="bold red")
            self.query_one("#raw-body", Static).update(msg)
            self.query_one("#hex-body", Static).update(msg)
            raw_note.update(Text(""))
            return
        syn, why = raw_view(data)
        raw_note.update(Text(why or f"{fmt_int(len(data))} bytes, pretty-printed", style="italic yellow" if why else "italic bright_black"))
        self.query_one("#raw-body", Static).update(syn)
        bad = st.kind == m.KIND_UNPARSABLE or getattr(st, "bad", False)
        per_row, stacked = hex_layout(self.size.width - 2, bad)
        self.query_one("#bytes-row").set_class(stacked, "-stacked")
        self.query_one("#hex-scroll").styles.width = "1fr" if stacked else hex_width(per_row) + 2
        self.query_one("#hex-body", Static).update(hex_view(data, st.offset if bad else None, per_row))
        if bad:
            self.query_one("#salvage-body", Static).update(salvage_view(st, data, salv))
        else:
            self.query_one("#salvage-body", Static).update(Text(f"{st.kind}: decodes fine; nothing to salvage", style="italic bright_black"))
