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
