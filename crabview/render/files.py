"""Whole-file renderings shared by the FUSE mount and ``crabview export``.

Every function returns the exact bytes of one file, so the mount and the
exporter cannot drift apart: ``transcript.md`` is ``session_markdown``,
``replay.jsonl`` is ``replay_jsonl``, each encoded the same way here.

JSON output is made inert differently from prose: ``visible()`` would turn
a control character into ``\\x85``-style text, which is not valid JSON
inside a string. ``inert_json`` instead writes every character ``visible``
would touch as a ``\\uXXXX`` escape, so the file stays valid JSON that
decodes to the same values and shows nothing raw in a terminal.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Iterator

from ..store import models as m
from ..store.decode import SALVAGE_DEPTH, position, salvage
from ..store.session import read_ahead
from .jsonenc import dumps, inert_json, pretty
from .safe import one_line, visible
from .pieces import Pieces
from .text import markdown_pieces, replay_pieces, step_json, value_builtins

if TYPE_CHECKING:  # pragma: no cover
    from ..store.problems import Problem
    from ..store.session import Session, StepFile

def json_text(value: Any, indent: int | None = 2) -> str:
    """Inert JSON for one value: the render layer's one encoder."""
    return dumps(value, indent)


def to_bytes(text: str) -> bytes:
    """The one text → bytes encoding of the mount and export (never raises)."""
    return text.encode("utf-8", "backslashreplace")


# --- session-level files -------------------------------------------------------


# The *_pieces functions give a file's text as ``Pieces`` (a head, then one
# piece per step, each renderable on its own: the mount serves any offset
# from them); the iter_* functions walk them in order, for streaming
# (``export``); the *_bytes functions are their joins.


def transcript_pieces(s: "Session", replay_only: bool = False) -> Pieces:
    return markdown_pieces(s, replay_only)


def iter_transcript(s: "Session", replay_only: bool = False) -> Iterator[str]:
    return iter(transcript_pieces(s, replay_only))


def transcript_bytes(s: "Session", replay_only: bool = False) -> bytes:
    return to_bytes("".join(iter_transcript(s, replay_only)))


def replay_file_pieces(s: "Session") -> Pieces:
    return replay_pieces(s).map(inert_json)


def iter_replay(s: "Session") -> Iterator[str]:
    return iter(replay_file_pieces(s))


def replay_bytes(s: "Session") -> bytes:
    return to_bytes("".join(iter_replay(s)))


def iter_steps_jsonl(s: "Session") -> Iterator[str]:
    """Every step file with its verdict, one ``step_json`` object per line."""
    for i, st in read_ahead(s.steps):
        yield json_text(step_json(st, s, i), indent=None) + "\n"


def steps_jsonl_bytes(s: "Session") -> bytes:
    return to_bytes("".join(iter_steps_jsonl(s)))


def meta_json_bytes(s: "Session") -> bytes:
    d: dict[str, Any] = value_builtins(s.meta) or {}
    md = s.meta_decode
    if md is not None and md.notes:
        d = {"meta": d, "lenient_decode": list(md.notes)}
    return to_bytes(json_text(d) + "\n")


def meta_error_bytes(s: "Session", raw: bytes | None) -> bytes:
    lines = [f"meta of session {visible(s.slug, multiline=False)}: {s.meta_status}"]
    if s.meta_error:
        lines.append(f"reason: {one_line(s.meta_error, 1000)}")
    md = s.meta_decode
    if md is not None and md.offset is not None and raw is not None:
        lc = position(raw, md.offset)
        lines.append(f"offset: byte {md.offset}" + (f" (line {lc[0]}, column {lc[1]})" if lc else ""))
    if s.meta_status == "missing":
        lines.append("the daemon treats this session as absent: load returns nothing and the listing hides it")
    else:
        lines.append("the daemon's load of this session fails, and its listing hides it")
    if raw is not None:
        lines.append("")
        lines.extend(_salvage_lines(raw, md.offset if md is not None else None))
    return to_bytes("\n".join(lines) + "\n")


def problem_line(p: "Problem") -> str:
    where = "/".join(visible(x, multiline=False) for x in (p.slug, p.file) if x) or "-"
    return f"{p.severity}\t{p.code}\t{where}\t{one_line(p.reason, 2000)}"


def problems_bytes(problems: "list[Problem]") -> bytes:
    return to_bytes("".join(problem_line(p) + "\n" for p in problems))


# --- one step ---------------------------------------------------------------------


def step_file_name(step: "StepFile") -> str:
    """The name of a step's decoded file under ``steps/``."""
    if step.kind == m.KIND_UNPARSABLE:
        return f"{step.name}.unparsable.txt"
    if step.kind == m.KIND_UNREADABLE:
        return f"{step.name}.unreadable.txt"
    return f"{step.name}.{step.kind}.json"


def step_json_bytes(step: "StepFile", s: "Session | None" = None, index: int | None = None) -> bytes:
    return to_bytes(json_text(step_json(step, s, index)) + "\n")


def hexdump(data: bytes, start: int = 0, end: int | None = None, mark: int | None = None) -> str:
    """xxd-style lines for ``data[start:end]`` (16-byte aligned); ``mark`` is flagged."""
    end = len(data) if end is None else min(end, len(data))
    start = max(0, start - start % 16)
    out = []
    for off in range(start, end, 16):
        chunk = data[off : min(off + 16, end)]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        flag = ""
        if mark is not None and off <= mark < off + 16:
            flag = f"   <-- byte {mark}"
        out.append(f"{off:08x}: {hexes:<47}  |{text:<16}|{flag}")
    return "\n".join(out)


SALVAGE_RENDER_CAP = 200_000  # characters of salvaged JSON shown


def salvage_notes(sv: Any) -> list[str]:
    """What salvage left out, said where it shows: bytes past its window,
    nesting past its depth cap."""
    out = []
    if sv.more_bytes > 0:
        out.append(f"… {sv.more_bytes:,} more bytes not salvaged (salvage reads the first {sv.examined:,} of {sv.size:,})")
    if sv.depth_cut is not None:
        out.append(f"… nesting deeper than {SALVAGE_DEPTH} levels from byte {sv.depth_cut:,} on is not salvaged")
    return out


def _salvage_lines(raw: bytes, offset: int | None) -> list[str]:
    sv = salvage(raw)
    lines = ["--- salvage: NOT what the daemon sees ---"]
    lines.extend(salvage_notes(sv))
    if sv.json is not None:
        label = "the bytes parse as JSON" if sv.json_complete else "JSON parsed up to the error"
        lines.append(f"{label}:")
        lines.append(pretty(sv.json, max_chars=SALVAGE_RENDER_CAP))
    else:
        lines.append("no JSON could be salvaged")
    if sv.readable:
        lines.append("")
        lines.append(f"readable text ({len(sv.readable)} run{'s' if len(sv.readable) != 1 else ''}):")
        for r in sv.readable[:50]:
            lines.append("  " + one_line(r, 400))
    lines.append("")
    if raw:
        if offset is not None:
            lines.append(f"hex dump around byte {offset} ({len(raw)} bytes in all):")
            lines.append(hexdump(raw, max(0, offset - 64), offset + 64, mark=offset))
        else:
            lines.append(f"hex dump ({len(raw)} bytes{', first 256 shown' if len(raw) > 256 else ''}):")
            lines.append(hexdump(raw, 0, 256))
    else:
        lines.append("the file is empty")
    return lines


def unparsable_bytes(step: "StepFile", raw: bytes | None) -> bytes:
    """``<file>.unparsable.txt`` / ``.unreadable.txt``: reason, offset, salvage, hex dump."""
    name = visible(step.name, multiline=False)
    if step.kind == m.KIND_UNREADABLE:
        lines = [
            f"{name}: unreadable",
            f"reason: {one_line(step.error or '', 2000)}",
            "the daemon's read of this entry fails, so the whole session cannot be resumed",
        ]
        return to_bytes("\n".join(lines) + "\n")
    lines = [
        f"{name}: unparsable, the daemon skips it on resume",
        f"reason: {one_line(step.error or '', 2000)}",
    ]
    if step.offset is not None:
        lc = position(raw, step.offset) if raw is not None else None
        lines.append(f"offset: byte {step.offset}" + (f" (line {lc[0]}, column {lc[1]})" if lc else ""))
    lines.append(f"size: {step.size} bytes")
    if step.variants:
        lines.append("")
        lines.append("why each StepLine variant failed (serde's order):")
        for variant, err, off in step.variants:
            lines.append(f"  {one_line(variant, 60)}: {one_line(err, 400)} (byte {off})")
    lines.append("")
    if raw is None:
        lines.append("(the file could not be read again for salvage)")
    else:
        lines.extend(_salvage_lines(raw, step.offset))
    return to_bytes("\n".join(lines) + "\n")


# --- store-level files --------------------------------------------------------------


def archive_md_bytes(entry: Any) -> bytes:
    created = ""
    try:
        created = dt.datetime.fromtimestamp(entry.created_at, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        created = str(entry.created_at)
    lines = [
        f"# archive `{one_line(entry.name, 300)}`",
        "",
        f"- memory.db entry {entry.id} ({entry.kind}), created {created}",
    ]
    if entry.aliases:
        lines.append("- aliases: " + ", ".join(f"`{one_line(a, 200)}`" for a in entry.aliases))
    lines += ["", visible(entry.content), ""]
    return to_bytes("\n".join(lines))


README_TEXT = """\
crabview mount: a crabtalk 0.0.22 session store, decoded, read-only
===================================================================

store:   {root}
mounted: {when}

This is a read-only view generated by crabview. Nothing here is written to
the store; every write, create, rename, chmod or unlink fails with EROFS.
The tree is live: new sessions and steps appear, transcripts grow.

README.txt                          this file
problems.txt                        every problem in the store, one per line
                                    (severity, code, session/file, reason; tab-separated)
sessions/<slug>/meta.json           decoded meta, pretty (meta.error.txt when bad)
sessions/<slug>/transcript.md       the whole session as Markdown: compact boundaries,
                                    the part the daemon does not replay labelled,
                                    unparsable steps explained in place
sessions/<slug>/replay.jsonl        exactly what the daemon would replay: the archive
                                    (or its placeholder) first, then each replayed entry
sessions/<slug>/problems.txt        this session's problems
sessions/<slug>/steps/<file>.<kind>.json
                                    each step decoded (kind: entry, event, compact,
                                    legacy_compact); <file>.unparsable.txt explains a
                                    step the daemon skips (reason, offset, salvage, hex)
sessions/<slug>/raw/<file>          the original bytes, unchanged
archives/<name>.md                  each Archive entry of memory.db
by-agent/<agent>/<sender>/latest    symlink to the session the daemon resumes

Text from the store is untrusted: control and invisible characters are
shown as visible marks (and as \\uXXXX escapes in JSON). raw/ is the
exception: it holds the bytes exactly as they are on disk.
"""


def readme_bytes(root: str, mounted_at: float) -> bytes:
    when = dt.datetime.fromtimestamp(mounted_at, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return to_bytes(README_TEXT.format(root=visible(root, multiline=False), when=when))


__all__ = [
    "inert_json",
    "json_text",
    "to_bytes",
    "transcript_pieces",
    "replay_file_pieces",
    "iter_transcript",
    "transcript_bytes",
    "iter_replay",
    "replay_bytes",
    "iter_steps_jsonl",
    "steps_jsonl_bytes",
    "meta_json_bytes",
    "meta_error_bytes",
    "problems_bytes",
    "problem_line",
    "step_file_name",
    "step_json_bytes",
    "unparsable_bytes",
    "hexdump",
    "archive_md_bytes",
    "readme_bytes",
]
