"""The timeline: a virtual line view, one row per step file in load order.

Only the visible lines are rendered (``render_line``), so a 100k-step
session costs one pass to build the row list and nothing per frame beyond
the screen height. Every string from the store is ``visible``-ised by the
render layer and drawn as plain Segments: markup in a step shows literally.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import ProgressBar, Sparkline, Static
from textual.containers import Horizontal, Vertical
from rich.text import Text

from ...render.safe import one_line
from ...render.text import KIND_GLYPH, fmt_int, role_of
from ...store import models as m
from ...store.layout import TMP_MARK, step_number
from ...store.problems import ERROR, INFO, WARNING, severity_rank
from ..model import META_INDEX, ROW_COMPACT, ROW_GAP, ROW_META, ROW_STEP, TimelineModel

S_NUM = Style(color="bright_black")
S_ROLE = {
    "user": Style(color="green", bold=True),
    "assistant": Style(color="cyan"),
    "tool": Style(color="blue"),
    "system": Style(color="magenta"),
}
S_EVENT = Style(color="magenta")
S_GLYPH = {
    m.KIND_ENTRY: Style(color="cyan"),
    m.KIND_EVENT: Style(color="magenta"),
    m.KIND_COMPACT: Style(color="yellow", bold=True),
    m.KIND_LEGACY: Style(color="yellow", bold=True),
    m.KIND_UNPARSABLE: Style(color="red", bold=True),
    m.KIND_UNREADABLE: Style(color="red", bold=True, reverse=True),
}
S_BAD = Style(color="red", bold=True)
S_WARN = Style(color="yellow")
S_DIM = Style(dim=True)
S_LABEL_DIM = Style(color="bright_black", italic=True)
S_GAP = Style(color="yellow", italic=True)
S_DIVIDER = Style(color="yellow", bold=True)
S_DIVIDER_BAD = Style(color="red", bold=True)
S_CURSOR = Style(bgcolor="#264f78")
S_CURSOR_BLUR = Style(bgcolor="#3a3a3a")
S_MATCH = Style(color="black", bgcolor="yellow")


SEVERITY_STYLE = {
    ERROR: Style(color="red", bold=True),
    WARNING: Style(color="yellow"),
    INFO: Style(color="cyan", italic=True),
}


# labels on narrow terminals ("not replayed" rows are dimmed: the dimming says it)
SHORT_LABEL = {
    "not replayed": "",
    "skipped by daemon": "skipped",
    "daemon load fails": "load fails",
    "not replayed (load fails)": "load fails",
    "lenient decode": "lenient",
    "leftover tmp · skipped": "tmp·skipped",
    "↯ out of numeric order": "↯ order",
}


def _short(label: str) -> str:
    """The narrow form of a row label (an order warning keeps its mark beside the replay's word)."""
    if label.startswith("↯ order · "):
        rest = SHORT_LABEL.get(label[10:], label[10:])
        return f"↯ order · {rest}" if rest else "↯ order"
    return SHORT_LABEL.get(label, label)


def _fit(text: str, room: int) -> str:
    """``text`` cut to ``room`` cells, with an ellipsis when cut."""
    if Segment(text).cell_length <= room:
        return text
    if room <= 1:
        return "…"[: max(0, room)]
    out = Strip([Segment(text)]).crop(0, room - 1)
    return "".join(s.text for s in out) + "…"


class Timeline(ScrollView, can_focus=True):
    """Rows of a ``TimelineModel``; cursor, follow mode, search matches."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up_rows", "PgUp", show=False),
        Binding("pagedown", "page_down_rows", "PgDn", show=False),
        # ScrollView binds Home/End to a bare scroll; here they are g/G (cursor, detail, follow)
        Binding("home", "app.top", "Top", show=False),
        Binding("end", "app.end", "End", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)
    follow: reactive[bool] = reactive(True)

    @dataclass
    class Highlighted(Message):
        timeline: "Timeline"
        index: int  # step index (-1: nothing)

    @dataclass
    class FollowChanged(Message):
        follow: bool

    @dataclass
    class NewBelow(Message):
        count: int  # rows appended since follow was turned off, not yet seen

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.model: TimelineModel | None = None
        self.placeholder = "loading…"
        self.matches: set[int] = set()
        self.marks: set[int] = set()  # bookmarked rows
        self.unseen = 0  # rows appended below while not following

    def on_key(self, event: events.Key) -> None:
        prompt_key = getattr(self.app, "prompt_key", None)  # `/` and `:` at paste speed (app.py)
        if prompt_key is not None:
            prompt_key(event)

    # -- model --------------------------------------------------------------

    def set_model(self, model: TimelineModel | None, placeholder: str = "") -> None:
        self.model = model
        self.matches = set()
        self.marks = set()
        self.unseen = 0
        if placeholder:
            self.placeholder = placeholder
        self._resize_virtual()
        if model is not None and model.rows:
            self.follow = True
            self._set_cursor(len(model.rows) - 1, force=True)
            self.call_after_refresh(self._scroll_cursor_visible)
        else:
            self.cursor = 0
            self.post_message(self.Highlighted(self, -1))
        self.refresh()

    def model_extended(self, keep_name: str | None = None, rebuilt: bool = False) -> None:
        """Rows were appended (or rebuilt): keep the cursor, or follow the end."""
        model = self.model
        if model is None:
            return
        before = int(self.virtual_size.height)
        self._resize_virtual()
        if not self.follow and not rebuilt:
            self.unseen += max(0, len(model.rows) - before)
            self.post_message(self.NewBelow(self.unseen))
        if self.follow and model.rows:
            self._set_cursor(len(model.rows) - 1, force=True)
            self.call_after_refresh(self._scroll_cursor_visible)
        elif rebuilt and keep_name is not None:
            i = model.session.index_of(keep_name)
            if i is not None and i < len(model.row_of_step):
                self._set_cursor(model.row_of_step[i], force=True)
            else:
                self._set_cursor(min(self.cursor, len(model.rows) - 1), force=True)
        self.refresh()

    def replace_model(self, model: TimelineModel) -> None:
        """Another model of the same session (the whole one after a stand-in of its end).

        Following stays at the end; otherwise the highlighted step stays
        highlighted, on the same screen line (the rows above it arrived).
        """
        old = self.model
        keep: str | None = None
        i = self.current_step()
        if old is not None and 0 <= i < len(old.steps):
            keep = old.steps[i].name
        on_screen = self.cursor - int(self.scroll_offset.y)
        follow = self.follow or old is None
        self.model = model
        self.matches = set()
        self.unseen = 0
        self._resize_virtual()
        if not model.rows:
            self.cursor = 0
            self.post_message(self.Highlighted(self, -1))
        elif follow:
            self._set_cursor(len(model.rows) - 1, force=True)
            self.call_after_refresh(self._scroll_cursor_visible)
        else:
            r = min(self.cursor, len(model.rows) - 1)
            if keep is not None:
                j = model.session.index_of(keep)
                if j is not None and j < len(model.row_of_step):
                    r = model.row_of_step[j]
            elif self.cursor == 0:  # the meta row is row 0 of every model
                r = 0
            self.cursor = r
            top = max(0, r - on_screen)
            self.scroll_to(y=top, animate=False, immediate=True, force=True)
            self._set_cursor(r, force=True)
        self.refresh()

    def _resize_virtual(self) -> None:
        n = len(self.model.rows) if self.model is not None else 1
        self.virtual_size = Size(max(1, self.scrollable_content_region.width), n)

    def on_resize(self, event: events.Resize) -> None:
        self._resize_virtual()
        self._scroll_cursor_visible()

    # -- cursor -----------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.model.rows) if self.model is not None else 0

    def current_step(self) -> int:
        model = self.model
        if model is None or not (0 <= self.cursor < len(model.rows)):
            return -1
        row = model.rows[self.cursor]
        return row.index if row.kind != ROW_GAP else -1  # the meta row: META_INDEX

    def _set_cursor(self, r: int, force: bool = False) -> None:
        model = self.model
        if model is None or not model.rows:
            return
        r = max(0, min(r, len(model.rows) - 1))
        if model.rows[r].kind == ROW_GAP:  # gaps are not selectable: step onto the next row
            r = r + 1 if r + 1 < len(model.rows) else r - 1
        old = self.cursor
        self.cursor = r
        at_end = r == len(model.rows) - 1
        if at_end != self.follow:
            self.follow = at_end
        if self.unseen and r >= len(model.rows) - self.unseen:
            self.unseen = 0
            self.post_message(self.NewBelow(0))
        self._scroll_cursor_visible()
        if old != r or force:
            self.refresh_line(old)
            self.refresh_line(r)
            self.post_message(self.Highlighted(self, self.current_step()))

    def _scroll_cursor_visible(self) -> None:
        """Scroll the least that shows the cursor row, and repaint everything visible.

        ``set_scroll`` bypasses the scroll watchers, so a scroll made with it
        leaves every line but the refreshed ones stale on screen; assigning
        ``scroll_y`` runs the watcher (scrollbar, full repaint) and clamps.
        """
        h = self.scrollable_content_region.height or self.size.height
        if h <= 0:
            return
        top = int(self.scroll_offset.y)
        r = self.cursor
        want = top
        if r < top:
            want = r
        elif r >= top + h:
            want = r - h + 1
        if want != top:
            self.scroll_to(y=want, animate=False, immediate=True, force=True)
            self.refresh()
    def move_to_row(self, r: int) -> None:
        self._set_cursor(r)

    def action_cursor_up(self) -> None:
        r = self.cursor - 1
        if self.model and 0 <= r and self.model.rows[r].kind == ROW_GAP:
            r -= 1
        self._set_cursor(max(r, 0))

    def action_cursor_down(self) -> None:
        self._set_cursor(self.cursor + 1)

    def action_page_up_rows(self) -> None:
        self._set_cursor(self.cursor - max(1, self.size.height - 1))

    def action_page_down_rows(self) -> None:
        self._set_cursor(self.cursor + max(1, self.size.height - 1))

    def go_top(self) -> None:
        self._set_cursor(0)

    def go_end(self) -> None:
        self._set_cursor(self.row_count - 1)
        self.follow = True
        if self.unseen:
            self.unseen = 0
            self.post_message(self.NewBelow(0))

    def watch_follow(self, follow: bool) -> None:
        self.post_message(self.FollowChanged(follow))

    def on_click(self, event: events.Click) -> None:
        self.focus()
        offset = event.get_content_offset(self)
        if offset is None:  # on the scrollbar or the border
            return
        r = int(offset.y + self.scroll_offset.y)
        if 0 <= r < self.row_count:
            self._set_cursor(r)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- rendering ----------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        r = y + int(self.scroll_offset.y)
        model = self.model
        if model is None or not model.rows:
            if y == 0:
                return Strip([Segment(" " + self.placeholder, S_LABEL_DIM)]).adjust_cell_length(width)
            return Strip.blank(width)
        if r >= len(model.rows):
            return Strip.blank(width)
        segs = self._row_segments(model, r, width)
        strip = Strip(segs).adjust_cell_length(width)
        if r == self.cursor:
            strip = strip.apply_style(S_CURSOR if self.has_focus else S_CURSOR_BLUR)
        return strip

    def row_text(self, r: int, width: int = 400) -> str:
        """Plain text of row ``r`` as drawn ``width`` cells wide (tests)."""
        model = self.model
        if model is None or not (0 <= r < len(model.rows)):
            return ""
        strip = Strip(self._row_segments(model, r, width)).adjust_cell_length(width)
        return "".join(s.text for s in strip)

    def _row_segments(self, model: TimelineModel, r: int, width: int) -> list[Segment]:
        row = model.rows[r]
        if row.kind == ROW_META:
            return self._meta_segments(model, width)
        if row.kind == ROW_GAP:
            n = row.extra
            if model.partial is not None:  # a number may still turn up in the part not yet read
                return [Segment(f"{'┆':>9}   … up to {fmt_int(n)} missing …", S_GAP)]
            return [Segment(f"{'┆':>9}   … {fmt_int(n)} missing …", S_GAP)]
        i = row.index
        st = model.steps[i]
        dim = model.is_not_replayed(i)
        name = st.name
        num = step_number(name)
        is_tmp = TMP_MARK in name
        if is_tmp:
            numtxt = "tmp"
        elif num is not None:
            numtxt = str(num)
        else:
            numtxt = one_line(name[5:], 8) or "?"
        mark = "▸" if r in self.marks else " "
        lead = Segment(f"{numtxt:>7}{mark} ", S_NUM if r not in self.matches else S_MATCH)
        if row.kind == ROW_COMPACT:
            return [lead] + self._divider(model, i, st, width - 9, dim)
        glyph = KIND_GLYPH.get(st.kind, "?")
        segs = [lead, Segment(glyph + " ", S_GLYPH.get(st.kind))]
        role = role_of(st)
        if st.kind == m.KIND_ENTRY:
            base_role = role.split("@", 1)[0]
            rstyle = S_ROLE.get(base_role, Style(color="white"))
        elif st.kind == m.KIND_EVENT:
            rstyle = S_EVENT
        else:
            rstyle = S_BAD
        segs.append(Segment(f"{one_line(role, 13):<13} ", rstyle))
        label, lstyle = "", S_LABEL_DIM
        if st.kind == m.KIND_UNREADABLE:
            label, lstyle = "daemon load fails", S_BAD
        elif is_tmp:
            if st.decoded:
                label, lstyle = f"leftover tmp · loaded as {st.kind}", S_WARN
            else:
                label, lstyle = "leftover tmp · skipped", S_WARN
        elif st.kind == m.KIND_UNPARSABLE:
            label, lstyle = "skipped by daemon", S_BAD
        elif dim:
            label = "not replayed"
        elif st.kind == m.KIND_ENTRY and model.load_status == "pending":
            label = "replay pending"  # the rest of the session may still fail the load
        elif st.kind == m.KIND_ENTRY and model.load_status != "ok":
            label, lstyle = "not replayed (load fails)", S_BAD
        elif st.notes:
            label, lstyle = "lenient decode", Style(color="cyan", italic=True)
        if row.extra and st.kind not in (m.KIND_UNREADABLE, m.KIND_UNPARSABLE) and not is_tmp:
            # a warning of its own, beside what the replay does with the row (never instead of it)
            label = f"↯ order · {label}" if label else "↯ out of numeric order"
            if lstyle is S_LABEL_DIM:
                lstyle = S_WARN
        if label and width - 9 - 2 - 14 - len(label) - 2 < 24:  # narrow: a short label, the summary keeps its room
            label = _short(label)
        room = width - 9 - 2 - 14 - (len(label) + 2 if label else 0)
        text = model.summary_of(i)
        if st.kind == m.KIND_EVENT and text.startswith(role):  # the event name is already in the role column
            text = text[len(role) :].lstrip()
        elif st.kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):  # so is the kind: the reason alone
            for prefix in ("unparsable, skipped: ", "unreadable: "):
                if text.startswith(prefix):
                    text = text[len(prefix) :]
        text = _fit(text, room) if room > 0 else ""
        sstyle = None
        if st.kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):
            sstyle = S_BAD
        elif is_tmp:
            sstyle = S_WARN
        segs.append(Segment(text, sstyle))
        if label:
            pad = max(1, room - Segment(text).cell_length + 2)
            segs.append(Segment(" " * pad))
            segs.append(Segment(label, lstyle))
        if dim:
            segs = [Segment(s.text, (s.style or Style()) + S_DIM) for s in segs]
        return segs

    def _meta_segments(self, model: TimelineModel, width: int) -> list[Segment]:
        """The pinned first row: the meta's verdict, and the worst of the session-level problems."""
        lead = Segment(f"{'meta':>8} ", S_NUM)
        probs = model.meta_problems
        worst = min((severity_rank(p.severity) for p in probs), default=None)
        if model.meta_status == "ok":
            meta = model.meta
            glyph, gstyle = "◇ ", Style(color="green")
            text = f"ok · agent {one_line(meta.agent, 20)} · created by {one_line(meta.created_by, 20)} · {one_line(meta.updated_at or meta.created_at, 25)}"
            if not model.listed:
                text += " · hidden from the daemon's listing"
        else:
            glyph, gstyle = "✗ ", S_BAD
            at = f" (byte {model.meta_offset})" if model.meta_offset is not None else ""
            text = f"{model.meta_status}{at}: {one_line(model.meta_error or '', 200)}"
        label = ""
        if probs:
            sev = (ERROR, WARNING, INFO)[worst] if worst is not None else ERROR
            label = f"{len(probs)} {sev if len(probs) == 1 else sev + 's'}" if len({p.severity for p in probs}) == 1 else f"{len(probs)} problems"
        room = width - 9 - 2 - (len(label) + 2 if label else 0)
        text = _fit(text, room)
        segs = [lead, Segment(glyph, gstyle), Segment(text, S_BAD if model.meta_status != "ok" else S_LABEL_DIM)]
        if label:
            segs.append(Segment(" " * max(2, room - Segment(text).cell_length + 2)))
            segs.append(Segment(label, SEVERITY_STYLE[(ERROR, WARNING, INFO)[worst or 0]]))
        return segs

    def _divider(self, model: TimelineModel, i: int, st, width: int, dim: bool) -> list[Segment]:
        v = st.value
        is_boundary = model.boundary_index == i
        if not is_boundary:
            where = "earlier boundary · not replayed"
        elif model.load_status == "pending":
            where = "replay starts here if the rest loads"
        elif model.load_status != "ok":
            where = "last boundary · the load fails: nothing is replayed"
        else:
            where = "replay starts here"
        if st.kind == m.KIND_COMPACT:
            found = model.archive_found.get(v.archive_name, False)
            state = "in memory.db" if found else "MISSING from memory.db"
            text = f"══ compact · archive {one_line(v.archive_name, 40)} · {state} · {where} · {one_line(v.archived_at, 30)} "
            style = S_DIVIDER if found else S_DIVIDER_BAD
        else:
            title = f" “{one_line(v.title, 30)}”" if v.title else ""
            text = f"══ legacy compact{title} · inline summary, no archive · {where} · {one_line(v.archived_at, 30) or 'no time'} "
            style = S_DIVIDER
        if dim:
            style = style + S_DIM
        text = _fit(text, width)
        fill = max(0, width - Segment(text).cell_length)
        return [Segment(text + "═" * fill, style)]


class TimelineHeader(Vertical):
    """Session title, token totals and a sparkline of tokens per turn."""

    def compose(self):
        yield Static(Text(""), id="timeline-title")
        yield Sparkline([], id="timeline-spark")
        with Horizontal(id="timeline-progress"):  # instead of the sparkline while a session is read
            yield ProgressBar(total=None, show_eta=False, id="timeline-progress-bar")
            yield Static(Text(""), id="timeline-progress-note")

    def show(self, model: TimelineModel | None, note: str = "", progress: tuple[int, int, str] | None = None) -> None:
        title = self.query_one("#timeline-title", Static)
        spark = self.query_one("#timeline-spark", Sparkline)
        reading = self.query_one("#timeline-progress", Horizontal)
        part = model.partial if model is not None else None
        reading.display = part is not None
        spark.display = part is None
        if model is None:
            title.update(Text(note or "no session selected", style="italic"))
            spark.data = []
            return
        s = model.session
        t = Text(no_wrap=True, overflow="ellipsis")
        meta = s.meta
        if meta is not None and meta.title:
            t.append(one_line(meta.title, 50), style="bold")
            t.append(f"  {one_line(s.slug, 40)}", style="bright_black")
        else:  # untitled: the slug once
            t.append(one_line(s.slug, 50), style="bold")
        facts = model.facts or model.compute_facts()
        c, u = facts.counts, facts.usage
        n = part.total if part is not None else len(model.steps)
        t.append(f"  {fmt_int(n)} step{'' if n == 1 else 's'}", style="")
        if part is not None:
            done = min(progress[0] if progress is not None else part.shown, part.total)
            t.append(" · reading… so far", style="bold yellow")  # the counts after it are of what is read
            bar = self.query_one("#timeline-progress-bar", ProgressBar)
            bar.update(total=max(1, part.total), progress=done)
            what = f"{fmt_int(done)} of {fmt_int(part.total)} read · the last {fmt_int(len(model.steps))} shown"
            unknown = "the load verdict" if part.boundary_known else "the replay start and load verdict"
            if s.load_status != "pending":  # already certain (meta, an unreadable step seen)
                unknown = "" if part.boundary_known else "the replay start"
            if unknown:  # (the counts say "so far" on the title line)
                what += f" · {unknown} not yet known"
            self.query_one("#timeline-progress-note", Static).update(Text(what, style="yellow"))
        k = c[m.KIND_COMPACT] + c[m.KIND_LEGACY]
        if k:
            t.append(f" · {k} compact{'' if k == 1 else 's'}", style="yellow")
        bad = c[m.KIND_UNPARSABLE] + c[m.KIND_UNREADABLE]
        if bad:
            t.append(f" · {bad} skipped/unreadable", style="red")
        turns = u["turns"]
        t.append(
            f"  tokens {fmt_int(u['total_tokens'])} ({fmt_int(u['prompt_tokens'])} in / {fmt_int(u['completion_tokens'])} out, "
            f"{fmt_int(turns)} turn{'' if turns == 1 else 's'})",
            style="green",
        )
        if s.load_status == "pending":
            pass  # said on the progress line
        elif s.load_status != "ok":
            t.append(f"  daemon load: {s.load_status}", style="bold red")
        title.update(t)
        spark.data = facts.spark
