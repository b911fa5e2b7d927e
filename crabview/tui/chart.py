"""A token chart of a session: tokens per turn as bars, a y scale, compact markers.

Pure text (``rich.text.Text``): no plotting dependency, bounded by the
size it is given whatever the number of turns (turns are bucketed, the
maximum of each bucket is drawn, so a spike is never averaged away).
"""

from __future__ import annotations

from rich.text import Text

from ..render.text import fmt_int
from ..store import models as m

BLOCKS = " ▁▂▃▄▅▆▇█"


def turns_of(steps: list) -> tuple[list[int], list[int]]:
    """Tokens per turn (one per done event, in load order) and the turn positions of compacts."""
    tokens: list[int] = []
    compacts: list[int] = []
    for st in steps:
        v = st.stored  # done events and compacts are always in memory (never LAZY)
        if type(v) is m.DoneEvent:
            tokens.append(v.usage.total_tokens)
        elif st.kind in (m.KIND_COMPACT, m.KIND_LEGACY):
            compacts.append(len(tokens))
    return tokens, compacts


def _short(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return f"{int(n)}"


def token_chart(tokens: list[int], compacts: list[int], width: int, height: int) -> Text:
    """Bars of ``tokens`` in ``width`` x ``height`` cells (plus axes), ═ where a compact happened."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if not tokens:
        out.append("no turns yet (no done events in this session)", style="italic")
        return out
    label_w = 7
    cols = max(1, width - label_w - 1)
    height = max(3, height)
    n = len(tokens)
    per = max(1, -(-n // cols))  # turns per column, rounded up
    buckets = [max(tokens[i : i + per]) for i in range(0, n, per)]
    top = max(buckets) or 1
    compact_cols = {min(len(buckets) - 1, c // per) for c in compacts}
    levels = height * 8
    heights = [round(b / top * levels) for b in buckets]
    for row in range(height, 0, -1):
        if row == height:
            label = _short(top)
        elif row == (height + 1) // 2:
            label = _short(top / 2)
        else:
            label = ""
        out.append(f"{label:>{label_w - 1}} ┤" if label else f"{'':>{label_w - 1}} │", style="bright_black")
        for c, h in enumerate(heights):
            fill = h - (row - 1) * 8
            ch = BLOCKS[max(0, min(8, fill))] if fill > 0 else " "
            style = "yellow" if c in compact_cols else "green"
            out.append(ch, style=style)
        out.append("\n")
    out.append(f"{'0':>{label_w - 1}} └", style="bright_black")
    axis = "".join("═" if c in compact_cols else "─" for c in range(len(buckets)))
    for ch in axis:
        out.append(ch, style="bold yellow" if ch == "═" else "bright_black")
    out.append("\n")
    span = f"turn 1 … {fmt_int(n)}" + (f" ({per} turns a column, the largest shown)" if per > 1 else "")
    out.append(" " * label_w + span, style="bright_black")
    out.append("\n")
    out.append(" " * label_w)
    out.append(f"total {fmt_int(sum(tokens))} tokens over {fmt_int(n)} turn{'' if n == 1 else 's'}, largest {fmt_int(max(tokens))}", style="green")
    if compacts:
        k = len(compacts)
        out.append(f" · ═ {k} compact{'' if k == 1 else 's'}", style="yellow")
    return out
