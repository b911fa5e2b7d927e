"""A file's rendering as pieces that can each be made on their own.

The big per-session files (``transcript.md``, ``replay.jsonl``) are one
head followed by one piece per step. ``Pieces`` holds what every piece
needs, frozen to the session as it was when it was built (a copy of the
step list, the order of the steps shown, the tool index, the archive), so
a reader can start at any piece and get exactly the text a reader from
the start got there. ``export`` walks it from piece 0; the mount starts
wherever a read lands (``fuse/streamed.py``). The whole file is the join
of all pieces, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from ..store.session import read_ahead

if TYPE_CHECKING:  # pragma: no cover
    from ..store.session import StepFile

StepPiece = Callable[[int, "StepFile"], str]


class Pieces:
    """Piece 0 is ``head``; piece k > 0 is ``step_piece(i, steps[i])`` for
    ``i = order[k - 1]``."""

    __slots__ = ("head", "steps", "order", "step_piece")

    def __init__(self, head: str, steps: "Sequence[StepFile]", order: Sequence[int], step_piece: StepPiece):
        self.head = head
        self.steps = steps
        self.order = order
        self.step_piece = step_piece

    def __len__(self) -> int:
        return 1 + len(self.order)

    def iter_from(self, k: int = 0, stop: int | None = None) -> Iterator[str]:
        """Pieces ``k`` up to ``stop`` (the end by default) in order, lazy
        step values read a batch ahead (never past ``stop``)."""
        if k <= 0:
            if stop is not None and stop <= 0:
                return
            yield self.head
            k = 1
        piece = self.step_piece
        order = self.order[k - 1 :] if stop is None else self.order[k - 1 : max(k - 1, stop - 1)]
        for i, st in read_ahead(self.steps, order):
            yield piece(i, st)

    def __iter__(self) -> Iterator[str]:
        return self.iter_from(0)

    def map(self, fn: Callable[[str], str]) -> "Pieces":
        """The same pieces, each passed through ``fn`` (e.g. made inert)."""
        piece = self.step_piece
        return Pieces(fn(self.head), self.steps, self.order, lambda i, st: fn(piece(i, st)))
