"""Query results for people and programs: an aligned table, JSON, CSV.

Every value that came from a store is made inert first: the table and CSV
through ``render.safe`` (control and bidi characters made visible), JSON
with every control, bidi and invisible character escaped, so no byte of store text reaches
a terminal raw while the data stays exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from typing import Any, Iterable

from ..render.jsonenc import dumps
from ..render.safe import one_line, visible


def _plain(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    v = _plain(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def table_text(names: list[str], rows: Iterable[tuple[Any, ...]], width: int) -> str:
    """An aligned table; each cell one visible line of at most ``width`` characters."""
    rows = list(rows)
    head = [one_line(n, width) for n in names]
    cells = [[one_line(_cell(v), width) for v in r] for r in rows]
    numeric = [
        all(isinstance(r[i], (int, float, decimal.Decimal)) and not isinstance(r[i], bool) for r in rows if r[i] is not None)
        for i in range(len(names))
    ]
    widths = [max([len(head[i])] + [len(c[i]) for c in cells]) for i in range(len(names))]

    def line(vals: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric)).rstrip()

    out = [line(head), "  ".join("─" * w for w in widths)]
    out.extend(line(c) for c in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def json_text(names: list[str], rows: Iterable[tuple[Any, ...]]) -> str:
    data = [{n: _plain(v) for n, v in zip(names, r)} for r in rows]
    # the render layer's one inert encoder: exact values, unsafe characters as \uXXXX
    return dumps(data, 2) + "\n"


def csv_text(names: list[str], rows: Iterable[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([visible(n) for n in names])
    for r in rows:
        w.writerow(["" if v is None else visible(_cell(v)) for v in r])
    return buf.getvalue()
