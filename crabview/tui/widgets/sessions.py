"""The sessions pane: every session, grouped by (agent, sender), filterable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from ...render.safe import one_line
from ...render.text import fmt_int
from ..actions import ACTIONS
from ..model import SessionStats, group_key, parse_ts, relative
from ...store.layout import parse_slug


BOUND_KEYS = frozenset(k for a in ACTIONS for k in a.key.split(","))


class SessionList(OptionList):
    """The list: j/k and arrows move, Enter opens, action keys act, anything else filters.

    Typing goes to the filter box: ``/`` (or any printable key that is not
    an action, j or k) moves focus there, and from then on every key lands
    in the box, action letters included, whether typed or pasted, until
    Enter, Esc, or Down leaves it. Keys that arrive before the focus has
    moved (paste speed) are forwarded, so none is lost or run as an action.
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def _pane(self) -> "SessionsPane | None":
        pane = self.parent
        return pane if isinstance(pane, SessionsPane) else None

    def on_key(self, event: events.Key) -> None:
        pane = self._pane()
        if pane is None:
            return
        ch = event.character
        printable = bool(ch) and ch.isprintable()  # type: ignore[union-attr]
        if pane.typing and printable:  # the focus is on its way to the box
            event.stop()
            event.prevent_default()
            pane.type_text(ch)  # type: ignore[arg-type]
            return
        if event.key == "escape" and pane.filter_text:
            event.stop()
            event.prevent_default()
            pane.clear_filter()
            return
        if event.key == "slash":
            event.stop()
            event.prevent_default()
            pane.start_filter("")
            return
        if event.key in BOUND_KEYS or event.key in ("j", "k"):
            return
        if printable and not ch.isspace():  # type: ignore[union-attr]
            event.stop()
            event.prevent_default()
            pane.start_filter(ch)  # type: ignore[arg-type]

    def on_paste(self, event: events.Paste) -> None:
        pane = self._pane()
        if pane is not None and event.text:
            event.stop()
            pane.start_filter(event.text.replace("\n", " ").replace("\r", " "))


class FilterInput(Input):
    """The filter box: Enter opens a single match, Esc clears, Down goes to the list."""

    BINDINGS = [
        Binding("down", "to_list", "List", show=False),
        Binding("escape", "clear", "Clear", show=False),
    ]

    def action_to_list(self) -> None:
        pane = self.parent
        if isinstance(pane, SessionsPane):
            pane.typing = False
            pane.query_one(SessionList).focus()

    def action_clear(self) -> None:
        pane = self.parent
        if isinstance(pane, SessionsPane):
            pane.clear_filter()

    def on_blur(self) -> None:
        pane = self.parent
        if isinstance(pane, SessionsPane):
            pane.typing = False


SEVERITY_BADGE = (("error", "✖", "bold red"), ("warning", "⚠", "yellow"), ("info", "ℹ", "cyan"))


def severity_badges(st: SessionStats) -> list[Text]:
    """One badge per severity present: ✖ errors, ⚠ warnings, ℹ info (distinct marks and colours)."""
    sev = st.severities or {"error": st.problems}
    return [Text(f"{mark}{sev[name]}", style=style) for name, mark, style in SEVERITY_BADGE if sev.get(name)]


class SessionsPane(Vertical):
    """Filter input + grouped session list."""

    @dataclass
    class Selected(Message):
        slug: str

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.filter_text = ""
        self.slugs: list[str] = []  # visible, in list order
        self._data: tuple[Any, ...] | None = None
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter sessions… (/ or type)", id="session-filter", select_on_focus=False)
        yield SessionList(id="session-list")

    typing = False  # keys go to the filter box (set before the focus gets there)

    def start_filter(self, text: str) -> None:
        self.typing = True
        self.type_text(text)
        self.query_one(FilterInput).focus()

    def type_text(self, text: str) -> None:
        inp = self.query_one(FilterInput)
        if inp.has_focus:
            inp.insert_text_at_cursor(text)
        else:  # still on its way: append, the cursor at the end
            inp.value = inp.value + text
            inp.cursor_position = len(inp.value)

    def clear_filter(self) -> None:
        self.typing = False
        inp = self.query_one(FilterInput)
        inp.value = ""
        self.filter_text = ""
        self.rebuild()
        self.query_one(SessionList).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "session-filter":
            event.stop()
            if event.value != self.filter_text:
                self.filter_text = event.value
                self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "session-filter":
            event.stop()
            self.typing = False
            if len(self.slugs) == 1:  # one match: open it
                slug = self.slugs[0]
                if slug != self.selected:
                    self.selected = slug
                    self.post_message(self.Selected(slug))
                self.app.query_one("#timeline").focus()
                return
            self.query_one(SessionList).focus()

    def set_data(
        self,
        summaries: dict[str, Any],
        stats: dict[str, SessionStats],
        latest: dict[tuple[str, str], str | None],
        live: Callable[[str], bool],
        now: float,
    ) -> None:
        self._data = (summaries, stats, latest, live, now)
        self.rebuild()

    def _matches(self, slug: str, summ: Any) -> bool:
        f = self.filter_text.strip().lower()
        if not f:
            return True
        meta = summ.meta
        hay = [slug.lower()]
        if meta is not None:
            hay += [meta.title.lower(), meta.agent.lower(), meta.created_by.lower()]
        return any(f in h for h in hay)

    SORTS = ("name", "updated", "problems", "live")
    STATES = ("all", "errors", "warnings", "hidden", "live")
    sort_mode = "name"
    state_mode = "all"

    def cycle_sort(self) -> None:
        self.sort_mode = self.SORTS[(self.SORTS.index(self.sort_mode) + 1) % len(self.SORTS)]
        self.rebuild()

    def cycle_state(self) -> None:
        self.state_mode = self.STATES[(self.STATES.index(self.state_mode) + 1) % len(self.STATES)]
        self.rebuild()

    def _state_ok(self, slug: str, summ: Any, st: SessionStats | None, live: Callable[[str], bool]) -> bool:
        mode = self.state_mode
        if mode == "all":
            return True
        if mode == "hidden":
            return not summ.listed
        if mode == "live":
            return live(slug)
        sev = (st.severities or {"error": st.problems}) if st is not None else {}
        if mode == "errors":
            return bool(sev.get("error"))
        return bool(sev.get("error") or sev.get("warning"))  # warnings: warnings or worse

    def _updated(self, summ: Any) -> float:
        ts = parse_ts(summ.meta.updated_at) if summ.meta is not None else None
        if ts is None and summ.mtime_ns:
            ts = summ.mtime_ns / 1e9
        return ts or 0.0

    def rebuild(self) -> None:
        if self._data is None:
            return
        summaries, stats, latest, live, now = self._data
        ol = self.query_one(SessionList)
        keep = self.selected
        groups: dict[tuple[str, str], list[str]] = {}
        for slug, summ in summaries.items():
            if self._matches(slug, summ) and self._state_ok(slug, summ, stats.get(slug), live):
                groups.setdefault(group_key(slug, summ.meta), []).append(slug)
        options: list[Option | None] = []
        self.slugs = []
        view = "" if (self.sort_mode, self.state_mode) == ("name", "all") else f"sorted by {self.sort_mode} · showing {self.state_mode} (s/S)"
        if self.sort_mode != "name":
            flat = [slug for g in groups.values() for slug in g]

            def key(slug: str):
                st = stats.get(slug)
                if self.sort_mode == "updated":
                    return (-self._updated(summaries[slug]), slug)
                if self.sort_mode == "live":
                    return (not live(slug), -self._updated(summaries[slug]), slug)
                sev = (st.severities or {"error": st.problems}) if st is not None else {}
                return (-sev.get("error", 0), -sev.get("warning", 0), -sev.get("info", 0), slug)

            flat.sort(key=key)
            options.append(Option(Text(view, style="bold italic", no_wrap=True, overflow="ellipsis"), disabled=True))
            for slug in flat:
                gk = group_key(slug, summaries[slug].meta)
                options.append(Option(self._prompt(slug, summaries[slug], stats.get(slug), latest.get(gk) == slug, live(slug), now), id=slug))
                self.slugs.append(slug)
        else:
            if view:
                options.append(Option(Text(view, style="bold italic", no_wrap=True, overflow="ellipsis"), disabled=True))
            for key in sorted(groups):
                agent, sender = key
                slugs = sorted(groups[key], key=lambda s: (parse_slug(s).seq if parse_slug(s) else 0, s))
                head = Text(f"{one_line(agent, 16)} / {one_line(sender, 16)}", style="bold", no_wrap=True, overflow="ellipsis")
                head.append(f"  {len(slugs)}", style="bright_black")
                head.truncate(self._width(), overflow="ellipsis")
                options.append(Option(head, disabled=True))
                for slug in slugs:
                    options.append(Option(self._prompt(slug, summaries[slug], stats.get(slug), latest.get(key) == slug, live(slug), now), id=slug))
                    self.slugs.append(slug)
        with self.app.batch_update():
            ol.clear_options()
            if self.slugs:
                ol.add_options(options)
            else:
                ol.add_option(Option(Text("no sessions" + (" match the filter" if self.filter_text or self.state_mode != "all" else ""), style="italic"), disabled=True))
            if keep is not None and keep in self.slugs:
                ol.highlighted = ol.get_option_index(keep)

    def _width(self) -> int:
        ol = self.query_one(SessionList)
        w = ol.scrollable_content_region.width or ol.size.width or (self.size.width - 1)
        return max(10, w - 1)

    def _prompt(self, slug: str, summ: Any, st: SessionStats | None, latest: bool, live: bool, now: float) -> Text:
        """Three lines, each cut to the list's width with an ellipsis (an option never wraps)."""
        width = self._width()
        meta = summ.meta
        line1 = Text()
        line1.append("◉ " if live else "  ", style="bold green")
        title = meta.title if meta is not None and meta.title else "(untitled)"
        line1.append(one_line(title, 200), style="bold" if summ.listed else "strike")
        if latest:
            line1.append(" ★", style="yellow")
        line2 = Text("    ")
        line2.append(one_line(slug, 200), style="bright_black")
        line3 = Text("    ")
        n = st.steps if st is not None else summ.step_names
        line3.append(f"{fmt_int(n)} step{'' if n == 1 else 's'}", style="")
        if st is not None and st.compacts:
            line3.append(f" ═{st.compacts}", style="yellow")
        if st is not None and st.problems:
            for text in severity_badges(st):
                line3.append(" ")
                line3.append_text(text)
        elif st is None:
            line3.append(" …", style="bright_black")
        ts = parse_ts(meta.updated_at) if meta is not None else None
        if ts is None and summ.mtime_ns:
            ts = summ.mtime_ns / 1e9
        line3.append(f" {relative(now - ts) if ts is not None else '-'}", style="bright_black")
        if not summ.listed:
            why = {"missing": "no meta", "corrupt": "bad meta", "unreadable": "meta unreadable"}.get(summ.meta_status, "unlisted")
            line3.append(f" hidden: {why}", style="bold red")
        out = Text(no_wrap=True, overflow="ellipsis")
        for k, line in enumerate((line1, line2, line3)):
            line.truncate(width, overflow="ellipsis")
            if k:
                out.append("\n")
            out.append_text(line)
        return out

    def on_resize(self, event: events.Resize) -> None:
        self.rebuild()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        oid = event.option.id
        if oid and oid != self.selected:
            self.selected = oid
            self.post_message(self.Selected(oid))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        oid = event.option.id
        if oid:
            if oid != self.selected:
                self.selected = oid
                self.post_message(self.Selected(oid))
            self.app.query_one("#timeline").focus()

    def select(self, slug: str) -> None:
        self.selected = slug
        ol = self.query_one(SessionList)
        if slug in self.slugs:
            ol.highlighted = ol.get_option_index(slug)
