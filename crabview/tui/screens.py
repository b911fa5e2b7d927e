"""Modal screens: help, and results of a search across sessions."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..render.safe import one_line
from ..render.text import KIND_GLYPH
from .actions import ACTIONS, key_label

NARROW = 70  # below this many columns the sessions pane is hidden


def help_renderable() -> Table:
    t = Table(title="crabview keys", show_header=False, box=None, padding=(0, 2))
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    for a in ACTIONS:
        t.add_row(key_label(a), a.help)
    t.add_row("↑ ↓ j k PgUp PgDn", "move in the timeline (mouse: click a row, wheel scrolls)")
    t.add_row(Text("sessions list", style="bold"), "")
    t.add_row("j k ↑ ↓ Enter", "move; Enter opens the session and focuses the timeline")
    t.add_row("e c r b f g G …", "the keys above act from the list too")
    t.add_row("/ or other letters", "type into the filter: from then on every key lands there (action letters too), typed or pasted")
    t.add_row("Enter · Esc · ↓", "in the filter: open the single match · clear the filter · back to the list")
    t.add_row("ctrl+p", "command palette: every action, open a session, search all sessions")
    t.add_row("", "")
    t.add_row(Text("marks", style="bold"), "")
    for kind, glyph in KIND_GLYPH.items():
        t.add_row(glyph, kind)
    t.add_row("══ … ══", "compact boundary: archive, time, whether memory.db has it; replay starts at the last one")
    t.add_row("dim", "before the replay start: the daemon does not replay it")
    t.add_row("┆ … n missing …", "a gap in step numbering")
    t.add_row("tmp", "a leftover tmp file (the daemon loads it if it decodes)")
    t.add_row("◉ ★", "sessions pane: written in the last seconds · latest session of its pair")
    t.add_row("", f"the sessions pane hides when the terminal is under {NARROW} columns (ctrl+p opens any session)")
    t.add_row("hidden", "the daemon's session listing does not show it (meta missing or corrupt)")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_renderable())

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class SearchResults(ModalScreen[tuple[str, str] | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Close")]

    def __init__(self, query: str, hits: list[tuple[str, str, str]], total: int = -1):
        super().__init__()
        self.query_text = query
        self.hits = hits
        self.total = len(hits) if total < 0 else total

    def compose(self) -> ComposeResult:
        with Vertical(id="results-box"):
            n, q = len(self.hits), one_line(self.query_text, 60)
            if self.total > n:
                head = f"{self.total:,} steps match “{q}” across sessions; showing the first {n:,}"
            else:
                head = f"{n:,} {'step matches' if n == 1 else 'steps match'} “{q}” across sessions"
            yield Static(Text(head, style="bold"))
            ol = OptionList(id="results-list")
            yield ol

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        for k, (slug, name, summ) in enumerate(self.hits):
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(one_line(slug, 30), style="bold")
            t.append(f" {one_line(name, 24)} ", style="bright_black")
            t.append(one_line(summ, 120))
            ol.add_option(Option(t, id=str(k)))
        if not self.hits:
            ol.add_option(Option(Text("no matches", style="italic"), disabled=True))
        else:
            ol.highlighted = 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        k = int(event.option.id or 0)
        slug, name, _ = self.hits[k]
        self.dismiss((slug, name))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


PROBLEM_STYLE = {"error": ("✖ error  ", "bold red"), "warning": ("⚠ warning", "yellow"), "info": ("ℹ info   ", "cyan")}


class ProblemsScreen(ModalScreen[tuple[str, str | None] | None]):
    """Every problem of the store, worst first; Enter jumps to it (session, file)."""

    BINDINGS = [Binding("escape,P", "dismiss_none", "Close")]

    def __init__(self, problems: list, sessions: int):
        super().__init__()
        from ..store.problems import severity_rank

        self.problems = sorted(problems, key=lambda p: (severity_rank(p.severity), p.slug or "", p.file or ""))
        self.sessions = sessions

    def compose(self) -> ComposeResult:
        with Vertical(id="results-box"):
            counts: dict[str, int] = {}
            for p in self.problems:
                counts[p.severity] = counts.get(p.severity, 0) + 1
            parts = " · ".join(f"{counts[k]} {k}" for k in ("error", "warning", "info") if counts.get(k))
            n = len(self.problems)
            k = len({p.slug for p in self.problems if p.slug is not None})  # sessions that have one, of those looked at
            head = f"{n:,} problem{'' if n == 1 else 's'} in {k:,} session{'' if k == 1 else 's'} ({self.sessions:,} checked)" + (f" ({parts})" if parts else "")
            yield Static(Text(head + " · Enter jumps to it", style="bold"))
            yield OptionList(id="problems-list")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        for k, p in enumerate(self.problems):
            label, style = PROBLEM_STYLE.get(p.severity, (p.severity, "bold red"))
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(label + " ", style=style)
            t.append(f"{p.code:<22} ", style="bold")
            where = "/".join(one_line(x, 40) for x in (p.slug, p.file) if x)
            t.append(f"{where} ", style="bright_black")
            t.append(one_line(p.reason, 200))
            ol.add_option(Option(t, id=str(k), disabled=p.slug is None))
        if not self.problems:
            ol.add_option(Option(Text("no problems in this store", style="italic"), disabled=True))
        else:
            first = next((k for k, p in enumerate(self.problems) if p.slug is not None), None)
            if first is not None:
                ol.highlighted = first
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        p = self.problems[int(event.option.id or 0)]
        self.dismiss((p.slug, p.file))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ListPicker(ModalScreen[str | None]):
    """A titled list of (id, text) choices; Enter returns the id (bookmarks)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]

    def __init__(self, title: str, choices: list[tuple[str, str]], empty: str):
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.empty = empty

    def compose(self) -> ComposeResult:
        with Vertical(id="results-box"):
            yield Static(Text(self.title_text, style="bold"))
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        for cid, text in self.choices:
            ol.add_option(Option(Text(one_line(text, 200), no_wrap=True, overflow="ellipsis"), id=cid))
        if not self.choices:
            ol.add_option(Option(Text(self.empty, style="italic"), disabled=True))
        else:
            ol.highlighted = 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class GotoStep(ModalScreen[int | None]):
    """Ask for a step number."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        with Vertical(id="goto-box"):
            yield Static(Text("go to step number (Enter; Esc cancels)", style="bold"))
            # nothing to select on focus; and digits handed over before it (type_key) must not be replaced
            yield Input(placeholder="e.g. 1234", id="goto-input", restrict=r"[0-9]*", select_on_focus=False)

    # Keys typed right after `:` (paste speed) reach the timeline before this
    # screen is up; the app hands them here (type_key), before or after mount.
    pending = ""
    submit_on_mount = False

    def on_mount(self) -> None:
        inp = self.query_one("#goto-input")
        if self.pending:
            inp.value = self.pending
            inp.cursor_position = len(inp.value)
        inp.focus()
        if self.submit_on_mount:
            self._answer(inp.value)

    def type_key(self, key: str, character: str | None) -> bool:
        """A key that was meant for the prompt; False if it is not one the prompt takes."""
        mounted = self.is_mounted and bool(self.query("#goto-input"))
        value = self.query_one("#goto-input").value if mounted else self.pending
        if key == "enter":
            if mounted:
                self._answer(value)
            else:
                self.submit_on_mount = True
            return True
        if key == "escape":
            self.dismiss(None)
            return True
        if key == "backspace":
            value = value[:-1]
        elif character and character.isascii() and character.isdigit():  # not ² or ١: int() refuses or misreads them
            value += character
        else:
            return False
        if mounted:
            inp = self.query_one("#goto-input")
            inp.value = value
            inp.cursor_position = len(value)
        else:
            self.pending = value
        return True

    def on_input_submitted(self, event) -> None:
        self._answer(event.value)

    def _answer(self, value: str) -> None:
        v = value.strip()
        self.dismiss(int(v) if v.isascii() and v.isdigit() else None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TokenChart(ModalScreen[None]):
    """Tokens per turn of the open session, with a scale and compact markers."""

    BINDINGS = [Binding("escape,t,q", "dismiss_none", "Close")]

    def __init__(self, title: str, tokens: list[int], compacts: list[int]):
        super().__init__()
        self.title_text = title
        self.tokens = tokens
        self.compacts = compacts

    def compose(self) -> ComposeResult:
        with Vertical(id="chart-box"):
            yield Static(Text(self.title_text, style="bold"), id="chart-title")
            yield Static(Text(""), id="chart-body")

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        from .chart import token_chart

        body = self.query_one("#chart-body", Static)
        w = max(20, (body.size.width or self.size.width - 8))
        h = max(3, (body.size.height or self.size.height - 10) - 4)
        body.update(token_chart(self.tokens, self.compacts, w, h))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
