"""Moving around a session: next/previous of a row set (wrapping), step numbers, bookmarks.

Pure functions and small state over ``TimelineModel`` rows; the app wires
them to keys (actions.py) and the timeline widget moves the cursor.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ..store.layout import step_number
from .model import ROW_GAP, TimelineModel


def next_row(rows: list[int], cursor: int, forward: bool) -> tuple[int, bool]:
    """The next (previous) row of sorted ``rows`` after ``cursor``, and whether it wrapped around."""
    if forward:
        k = bisect_right(rows, cursor)
        return (rows[k], False) if k < len(rows) else (rows[0], True)
    k = bisect_left(rows, cursor)
    return (rows[k - 1], False) if k > 0 else (rows[-1], True)


def row_of_number(model: TimelineModel, number: int) -> tuple[int, bool] | None:
    """The row of the step numbered ``number`` (exact), else the first after it (False); None past the end."""
    best: tuple[int, int] | None = None
    for i, st in enumerate(model.steps):
        n = step_number(st.name)
        if n is None:
            continue
        if n == number:
            return model.row_of_step[i], True
        if n > number and (best is None or n < best[0]):
            best = (n, i)
    if best is None:
        return None
    return model.row_of_step[best[1]], False


class Bookmarks:
    """Marked steps per session, by step name (names survive appends and rebuilds)."""

    def __init__(self) -> None:
        self._marks: dict[str, set[str]] = {}

    def toggle(self, slug: str, name: str) -> bool:
        marks = self._marks.setdefault(slug, set())
        if name in marks:
            marks.discard(name)
            return False
        marks.add(name)
        return True

    def names(self, slug: str) -> list[str]:
        return sorted(self._marks.get(slug, ()))

    def has(self, slug: str, name: str) -> bool:
        return name in self._marks.get(slug, ())

    def rows(self, model: TimelineModel) -> list[int]:
        out = []
        for name in self.names(model.slug):
            i = model.session.index_of(name)
            if i is not None and i < len(model.row_of_step) and model.rows[model.row_of_step[i]].kind != ROW_GAP:
                out.append(model.row_of_step[i])
        return sorted(out)
