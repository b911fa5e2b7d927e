"""A straightforward `crabview ls --quick`: the bytes the command must write, computed the slow, obvious way.

The product's listing is tuned for speed (one scan, one pass, shortcuts for
plain ASCII); this one does every step per session with the store's own
rules (``read_file``, ``decode_meta``, ``find_latest_session``, ``one_line``,
``cell_len``, ``visible``), so a shortcut that changes a byte shows up as a
difference from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from crabview.render.jsonenc import dumps
from crabview.render.safe import one_line, visible
from crabview.store.decode import decode_meta
from crabview.store.fileio import MISSING, read_file
from crabview.store.layout import STEP_PREFIX, TMP_MARK, find_latest_session, is_utf8_name, parse_slug, resolve

PIPE_WIDTH = 1_000_000  # columns are never cut in a pipe


def session_dirs(root: str | Path) -> tuple[Path, list[tuple[str, str, bool]]]:
    """(sessions dir, [(slug, path, is_symlink)]) in name order."""
    layout = resolve(root)
    sdir = layout.sessions_dir
    if layout.session is not None:
        p = sdir / layout.session
        return sdir, [(layout.session, str(p), p.is_symlink())]
    found = []
    for e in os.scandir(sdir):
        try:
            if e.is_dir():
                found.append((e.name, e.path, e.is_symlink()))
        except OSError:
            pass
    return sdir, sorted(found)


def quick_rows(root: str | Path) -> tuple[Path, list[dict[str, Any]]]:
    sdir, dirs = session_dirs(root)
    rows = []
    for slug, path, is_link in dirs:
        try:
            listing = os.listdir(path)
        except OSError:
            listing = []
        meta = None
        if "meta" in listing:
            data, reason = read_file(os.path.join(path, "meta"))
            if data is None:  # as Session reads it: a dangling link (or a meta gone since) is missing
                status = "missing" if reason == MISSING else "unreadable"
            else:
                meta = decode_meta(data).meta
                status = "ok" if meta is not None else "corrupt"
        else:
            status = "missing"
        steps = [n for n in listing if n.startswith(STEP_PREFIX) and is_utf8_name(n)]
        ps = parse_slug(slug)
        rows.append({
            "slug": slug,
            "listed": status == "ok" and not is_link and is_utf8_name(slug),
            "agent": ps.agent if ps else None,
            "sender": ps.sender if ps else None,
            "seq": ps.seq if ps else None,
            "title": meta.title if meta else None,
            "meta_status": status,
            "steps": len(steps),
            "tmp_files": len([n for n in steps if TMP_MARK in n]),
            "compacts": None,
            "problems": None,
            "updated": meta.updated_at if meta else None,
            "message_count": meta.message_count if meta else None,
            "latest": ps is not None and find_latest_session(sdir, ps.agent, ps.sender) == slug,
        })
    return sdir, rows


def ls_quick_bytes(root: str | Path, as_json: bool = False, tty: bool = False) -> bytes:
    """What `crabview ls --quick [--json] ROOT` writes to stdout (a terminal when ``tty``)."""
    sdir, rows = quick_rows(root)
    if as_json:
        text = dumps(rows, 2) + "\n"
    elif not rows:
        text = visible(f"no sessions under {sdir}") + "\n"
    else:
        slugs = [one_line(r["slug"], 32 if tty else PIPE_WIDTH) for r in rows]
        titles = [one_line(r["title"] or "-", 28 if tty else PIPE_WIDTH) for r in rows]
        ws = max([cell_len("SESSION")] + [cell_len(x) for x in slugs])
        wt = max([cell_len("TITLE")] + [cell_len(x) for x in titles])

        def pad(s: str, w: int) -> str:
            return s + " " * max(0, w - cell_len(s))

        lines = [f"{pad('SESSION', ws)} {pad('TITLE', wt)} {'STEPS':>6} {'CMP':>4} {'PROB':>5}  {'UPDATED':<20} FLAGS".rstrip()]
        for r, s, t in zip(rows, slugs, titles):
            flags = ([] if r["listed"] else ["hidden"]) + (["latest"] if r["latest"] else [])
            updated = one_line(r["updated"] or "", 30)
            updated = updated.replace("T", " ")[:19] if updated else "-"
            lines.append(f"{pad(s, ws)} {pad(t, wt)} {r['steps']:>6} {'?':>4} {'?':>5}  {updated:<20} {','.join(flags)}".rstrip())
        text = "".join(visible(x) + "\n" for x in lines)
    return text.encode("utf-8", "backslashreplace")


__all__ = ["ls_quick_bytes", "quick_rows", "session_dirs"]
