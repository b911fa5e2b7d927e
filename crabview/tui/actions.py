"""The one table of user actions: key bindings, Footer and command palette all read it."""

from __future__ import annotations

from typing import NamedTuple

from textual.binding import Binding


class Action(NamedTuple):
    key: str  # Textual key name(s), comma separated
    action: str  # app action name (without ``action_``)
    label: str  # short, for the Footer
    help: str  # longer, for the palette and the help screen
    show: bool = True  # shown in the Footer


ACTIONS: tuple[Action, ...] = (
    Action("slash", "search", "Search", "Search step summaries in this session"),
    Action("n", "next_match", "Next", "Next search match", show=False),
    Action("N", "prev_match", "Prev", "Previous search match", show=False),
    Action("e", "next_problem", "Problem", "Next problem (unparsable, unreadable, tmp, gap, missing archive, out of order)"),
    Action("E", "prev_problem", "Prev problem", "Previous problem", show=False),
    Action("c", "next_compact", "Compact", "Next compact boundary"),
    Action("C", "prev_compact", "Prev compact", "Previous compact boundary", show=False),
    Action("g,home", "top", "Top", "First step", show=False),
    Action("G,end", "end", "End", "Last step (and follow)", show=False),
    Action("r", "raw", "Raw", "Toggle the raw JSON view of the step"),
    Action("b", "bytes", "Bytes", "Toggle the bytes view (hex + text, salvage)"),
    Action("f", "follow", "Follow", "Toggle follow mode: keep the newest step in view"),
    Action("tab", "focus_next", "Pane", "Next pane", show=False),
    Action("question_mark", "help", "Help", "Keys and what the marks mean"),
    Action("q", "quit", "Quit", "Quit crabview"),
)


def bindings() -> list[Binding]:
    return [Binding(a.key, a.action, a.label, show=a.show, tooltip=a.help) for a in ACTIONS if a.action != "focus_next"]


def key_label(a: Action) -> str:
    names = {"slash": "/", "question_mark": "?", "home": "Home", "end": "End", "tab": "Tab"}
    return " ".join(names.get(k, k) for k in a.key.split(","))
