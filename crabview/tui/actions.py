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
    Action("slash", "search", "Search", "Search the full content of this session's steps (re:PATTERN for a regex)"),
    Action("n", "next_match", "Next", "Next search match (wraps, and says so)", show=False),
    Action("N", "prev_match", "Prev", "Previous search match", show=False),
    Action("e", "next_problem", "Problem", "Next problem: error or warning (meta, unparsable, unreadable, tmp, gap, missing archive, order)"),
    Action("E", "prev_problem", "Prev problem", "Previous problem", show=False),
    Action("P", "problems", "Problems", "Every problem of the store, by severity; Enter jumps to it", show=False),
    Action("c", "next_compact", "Compact", "Next compact boundary"),
    Action("C", "prev_compact", "Prev compact", "Previous compact boundary", show=False),
    Action("g,home", "top", "Top", "First row (the session's meta)", show=False),
    Action("G,end", "end", "End", "Last step (and follow)", show=False),
    Action("colon", "goto_step", "Go to", "Jump to a step number", show=False),
    Action("m", "toggle_mark", "Mark", "Bookmark this step (or remove the bookmark)", show=False),
    Action("apostrophe", "next_mark", "Next mark", "Next bookmark", show=False),
    Action("M", "list_marks", "Marks", "List the bookmarks of this session", show=False),
    Action("r", "raw", "Raw", "Toggle the raw JSON view of the step"),
    Action("b", "bytes", "Bytes", "Toggle the bytes view (hex + text, salvage)"),
    Action("f", "follow", "Follow", "Toggle follow mode: keep the newest step in view"),
    Action("y", "copy_json", "Copy", "Copy the step's JSON (the file's text) to the clipboard (OSC 52)", show=False),
    Action("Y", "copy_text", "Copy text", "Copy the step as text to the clipboard", show=False),
    Action("ctrl+y", "copy_path", "Copy path", "Copy the step file's path to the clipboard", show=False),
    Action("o", "open_pager", "Pager", "Open the step's text in $PAGER (crabview suspends, then resumes)", show=False),
    Action("O", "open_editor", "Editor", "Open the step's text in $EDITOR (a temporary copy; the store is never written)", show=False),
    Action("z", "maximize_detail", "Zoom", "Maximize the detail pane (again: back)", show=False),
    Action("backslash", "toggle_sessions", "Sessions", "Hide or show the sessions pane", show=False),
    Action("s", "cycle_sort", "Sort", "Sessions: cycle the order (name, updated, problems, live)", show=False),
    Action("S", "cycle_state", "State", "Sessions: cycle the state filter (all, errors, warnings, hidden, live)", show=False),
    Action("t", "token_chart", "Tokens", "Token chart of this session: tokens per turn, with a scale and compact markers", show=False),
    Action("tab", "focus_next", "Pane", "Next pane", show=False),
    Action("question_mark", "help", "Help", "Keys and what the marks mean"),
    Action("q", "quit", "Quit", "Quit crabview"),
)


def bindings() -> list[Binding]:
    return [Binding(a.key, a.action, a.label, show=a.show, tooltip=a.help) for a in ACTIONS if a.action != "focus_next"]


def key_label(a: Action) -> str:
    names = {"slash": "/", "question_mark": "?", "home": "Home", "end": "End", "tab": "Tab", "colon": ":", "apostrophe": "'", "backslash": "\\", "ctrl+y": "ctrl+y"}
    return " ".join(names.get(k, k) for k in a.key.split(","))
