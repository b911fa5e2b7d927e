"""The store's verdicts as column lists: the rows behind ``crabview sql``.

One ``TableSet`` gathers sessions, steps, tool_calls, turns, compacts and
problems from any number of stores. Columns are plain Python lists (one
per column, appended in step), which is what the DuckDB loader hands over
in one piece. Values are the store's text as decoded: making it safe for
a terminal is the output's job, not the table's.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from ..store import models as m
from ..store.layout import parse_slug, step_number
from ..store.session import LAZY, Session
from ..store.store import Store

# A step's ``text`` column keeps at most this many characters (a tool
# result can be megabytes; the file is still there to read in full).
TEXT_LIMIT = 65_536

# table -> [(column, DuckDB type, what it is)]. The order is the column order.
SCHEMA: dict[str, list[tuple[str, str, str]]] = {
    "sessions": [
        ("store", "VARCHAR", "the store: its path, or the NAME of a NAME=PATH argument"),
        ("slug", "VARCHAR", "session directory name"),
        ("slug_agent", "VARCHAR", "agent part of the slug (NULL if the name is no slug)"),
        ("slug_sender", "VARCHAR", "sender part of the slug"),
        ("seq", "BIGINT", "sequence number of the slug"),
        ("agent", "VARCHAR", "meta: agent"),
        ("created_by", "VARCHAR", "meta: created_by"),
        ("created_at", "VARCHAR", "meta: created_at (RFC 3339 text)"),
        ("title", "VARCHAR", "meta: title"),
        ("updated_at", "VARCHAR", "meta: updated_at"),
        ("message_count", "UBIGINT", "meta: message_count"),
        ("summary", "VARCHAR", "meta: summary"),
        ("meta_status", "VARCHAR", "ok | missing | corrupt | unreadable"),
        ("meta_error", "VARCHAR", "why meta does not decode"),
        ("listed", "BOOLEAN", "shown by the daemon's session listing"),
        ("hidden", "BOOLEAN", "not listed (no meta, corrupt meta, symlink, non-UTF-8 name)"),
        ("latest", "BOOLEAN", "the daemon's latest session for its (agent, sender)"),
        ("load_status", "VARCHAR", "what the daemon's load returns: ok | none | error"),
        ("load_error", "VARCHAR", "why the load fails"),
        ("steps", "BIGINT", "step- files"),
        ("compacts", "BIGINT", "compact boundaries (both kinds)"),
        ("problems", "BIGINT", "problems found in the session"),
        ("replayed", "BIGINT", "entries the daemon replays on resume"),
        ("replay_start", "VARCHAR", "file of the last compact boundary (replay starts there)"),
        ("archive", "VARCHAR", "archive named by that boundary"),
        ("archive_found", "BOOLEAN", "whether memory.db has it (NULL: legacy or no boundary)"),
        ("next_step", "UBIGINT", "number the daemon's counter gives the next step"),
    ],
    "steps": [
        ("store", "VARCHAR", ""),
        ("slug", "VARCHAR", ""),
        ("file", "VARCHAR", "step file name"),
        ("number", "UBIGINT", "step number as the daemon's counter reads it (NULL: does not parse)"),
        ("position", "BIGINT", "0-based place in the daemon's load order"),
        ("kind", "VARCHAR", "entry | event | compact | legacy_compact | unparsable | unreadable"),
        ("replayed", "BOOLEAN", "in the history the daemon's resume builds"),
        ("boundary", "BOOLEAN", "the replay boundary (last compact)"),
        ("tmp", "BOOLEAN", "a leftover tmp file (.tmp. in the name)"),
        ("lenient", "BOOLEAN", "decodes only through a serde leniency"),
        ("size", "BIGINT", "bytes read"),
        ("error", "VARCHAR", "decoder's reason (unparsable, unreadable)"),
        ("offset", "BIGINT", "byte position of that error"),
        ("role", "VARCHAR", "entries: message role"),
        ("guest_agent", "VARCHAR", "entries: non-empty agent (a guest agent)"),
        ("event", "VARCHAR", "events: tool_start | tool_result | done | user_steered"),
        ("ts", "VARCHAR", "events: ts; compacts: archived_at"),
        ("text", "VARCHAR", f"readable text (text blocks, thinking, tool input/output, steering, summaries), first {TEXT_LIMIT:,} chars"),
    ],
    "tool_calls": [
        ("store", "VARCHAR", ""),
        ("slug", "VARCHAR", ""),
        ("id", "VARCHAR", "tool call id"),
        ("name", "VARCHAR", "tool name"),
        ("input", "VARCHAR", "arguments as JSON text"),
        ("call_step", "VARCHAR", "first step naming the call (tool_start event or tool_use block)"),
        ("result_step", "VARCHAR", "step holding its tool_result block"),
        ("result_event_step", "VARCHAR", "step holding its tool_result event"),
        ("started_at", "VARCHAR", "ts of the tool_start event"),
        ("finished_at", "VARCHAR", "ts of the tool_result event"),
        ("duration_ms", "UBIGINT", "from the tool_result event"),
        ("is_error", "BOOLEAN", "always NULL: crabtalk 0.0.22's tool results carry no error flag (FORMAT.md 5)"),
    ],
    "turns": [
        ("store", "VARCHAR", ""),
        ("slug", "VARCHAR", ""),
        ("step", "VARCHAR", "file of the done event"),
        ("number", "UBIGINT", "its step number"),
        ("model", "VARCHAR", ""),
        ("iterations", "UBIGINT", ""),
        ("stop_reason", "VARCHAR", ""),
        ("prompt_tokens", "BIGINT", ""),
        ("completion_tokens", "BIGINT", ""),
        ("total_tokens", "BIGINT", ""),
        ("reasoning_tokens", "BIGINT", "completion_tokens_details.reasoning_tokens"),
        ("prompt_cache_hit_tokens", "BIGINT", ""),
        ("prompt_cache_miss_tokens", "BIGINT", ""),
        ("ts", "VARCHAR", "RFC 3339 text as written"),
        ("done_at", "TIMESTAMPTZ", "ts as a timestamp, UTC (NULL where the text does not parse)"),
    ],
    "compacts": [
        ("store", "VARCHAR", ""),
        ("slug", "VARCHAR", ""),
        ("step", "VARCHAR", "file of the compact"),
        ("kind", "VARCHAR", "compact | legacy_compact"),
        ("archive", "VARCHAR", "archive_name (NULL for a legacy compact)"),
        ("found", "BOOLEAN", "archive in memory.db (NULL for a legacy compact)"),
        ("archived_at", "VARCHAR", ""),
        ("boundary", "BOOLEAN", "the one replay starts at"),
        ("title", "VARCHAR", "legacy compact: title"),
    ],
    "problems": [
        ("store", "VARCHAR", ""),
        ("slug", "VARCHAR", "NULL for a store-wide problem (memory.db)"),
        ("code", "VARCHAR", "stable code (check --json)"),
        ("severity", "VARCHAR", "error | warning | info (crabview/store/problems.py)"),
        ("file", "VARCHAR", ""),
        ("reason", "VARCHAR", "one-line reason"),
    ],
}

TABLES = tuple(SCHEMA)


def _text_of(v: Any) -> str | None:
    """Readable text of a decoded step value, bounded."""
    t = type(v)
    parts: list[str] = []
    if t is m.HistoryEntry:
        for b in v.message.content:
            bt = type(b)
            if bt is m.TextBlock:
                parts.append(b.text)
            elif bt is m.ThinkingBlock:
                parts.append(b.thinking)
            elif bt is m.ToolUseBlock:
                parts.append(_json(b.input))
            elif bt is m.ToolResultBlock:
                c = b.content
                parts.append(c if isinstance(c, str) else _json(c))
    elif t is m.UserSteeredEvent:
        parts.append(v.content)
    elif t is m.ToolStartEvent:
        parts.extend(c.arguments for c in v.calls)
    elif t is m.LegacyCompact:
        parts.append(v.compact)
    else:
        return None
    text = "\n".join(parts)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT]


def _json(v: Any) -> str:
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(v)


class TableSet:
    """Column lists for every table, filled store by store, session by session."""

    def __init__(self) -> None:
        self.columns: dict[str, dict[str, list[Any]]] = {
            t: {c: [] for c, _ty, _d in cols} for t, cols in SCHEMA.items()
        }
        self.session_count = 0

    def rows(self, table: str) -> int:
        return len(self.columns[table]["store"])

    # -- filling ---------------------------------------------------------------

    def add_store(self, label: str, store: Store, progress: Callable[[int, int], None] | None = None) -> None:
        pr = self.columns["problems"]
        for p in store.store_problems():
            for col, val in (("store", label), ("slug", p.slug), ("code", p.code), ("severity", p.severity), ("file", p.file), ("reason", p.reason)):
                pr[col].append(val)
        latest: dict[tuple[str, str], str | None] = {}
        for s in store.iter_sessions(progress):
            ps = parse_slug(s.slug)
            is_latest = False
            if ps is not None:
                key = (ps.agent, ps.sender)
                if key not in latest:
                    latest[key] = store.latest(ps.agent, ps.sender)
                is_latest = latest[key] == s.slug
            self.add_session(label, s, is_latest)

    def add_session(self, label: str, s: Session, is_latest: bool) -> None:
        self.session_count += 1
        slug = s.slug
        meta = s.meta
        ps = parse_slug(slug)
        problems = s.problems
        replay = s.replay_indices
        b = s.boundary
        row = (
            label, slug,
            ps.agent if ps else None, ps.sender if ps else None, ps.seq if ps else None,
            meta.agent if meta else None, meta.created_by if meta else None, meta.created_at if meta else None,
            meta.title if meta else None, meta.updated_at if meta else None,
            meta.message_count if meta else None, meta.summary if meta else None,
            s.meta_status, s.meta_error, s.listed, not s.listed, is_latest,
            s.load_status, s.load_error, len(s.steps), s.compact_count, len(problems), len(replay),
            b.name if b else None, s.archive, s.archive_found, s.next_step,
        )
        for col, val in zip(self.columns["sessions"].values(), row):
            col.append(val)

        pr = self.columns["problems"]
        for p in problems:
            pr["store"].append(label)
            pr["slug"].append(slug)
            pr["code"].append(p.code)
            pr["severity"].append(p.severity)
            pr["file"].append(p.file)
            pr["reason"].append(p.reason)

        self._add_steps(label, s, set(replay))

    def _add_steps(self, label: str, s: Session, replayed: set[int]) -> None:
        slug = s.slug
        st_cols = self.columns["steps"]
        (c_store, c_slug, c_file, c_number, c_pos, c_kind, c_rep, c_bound, c_tmp, c_len, c_size, c_err, c_off,
         c_role, c_guest, c_event, c_ts, c_text) = st_cols.values()
        turns = self.columns["turns"]
        comp = self.columns["compacts"]
        calls: dict[str, list[Any]] = {}  # id -> tool_calls row (in order of first sight)
        boundary_index = s.boundary.index if s.boundary is not None else -1
        memory = s.memory
        for i, st in enumerate(s.steps):
            name = st.name
            kind = st.kind
            v = st.value if st.stored is not None else None
            c_store.append(label)
            c_slug.append(slug)
            c_file.append(name)
            c_number.append(step_number(name))
            c_pos.append(i)
            c_kind.append(kind)
            c_rep.append(i in replayed)
            c_bound.append(i == boundary_index)
            c_tmp.append(st.is_tmp)
            c_len.append(bool(st.notes))
            c_size.append(st.size)
            c_err.append(st.error)
            c_off.append(st.offset)
            t = type(v)
            role = guest = event = ts = None
            if t is m.HistoryEntry:
                role = v.message.role
                guest = v.agent or None
                for blk in v.message.content:
                    bt = type(blk)
                    if bt is m.ToolUseBlock:
                        row = calls.get(blk.id)
                        if row is None:
                            calls[blk.id] = [blk.name, _json(blk.input), name, None, None, None, None, None, None]
                    elif bt is m.ToolResultBlock:
                        row = calls.get(blk.tool_use_id)
                        if row is None:
                            row = calls[blk.tool_use_id] = [None, None, None, None, None, None, None, None, None]
                        if row[3] is None:
                            row[3] = name
            elif kind == m.KIND_EVENT and v is not None:
                event = v.__struct_config__.tag
                ts = v.ts
                if t is m.ToolStartEvent:
                    for c in v.calls:
                        row = calls.get(c.id)
                        if row is None:
                            calls[c.id] = [c.name, c.arguments, name, None, None, ts, None, None, None]
                        elif row[5] is None:
                            row[5] = ts
                elif t is m.ToolResultEvent:
                    row = calls.get(v.call_id)
                    if row is None:
                        row = calls[v.call_id] = [None, None, None, None, None, None, None, None, None]
                    if row[4] is None:
                        row[4] = name
                        row[6] = ts
                        row[7] = v.duration_ms
                elif t is m.DoneEvent:
                    u = v.usage
                    details = u.completion_tokens_details
                    reasoning = details.reasoning_tokens if details is not None else None
                    vals = (label, slug, name, step_number(name), v.model, v.iterations, v.stop_reason,
                            u.prompt_tokens, u.completion_tokens, u.total_tokens, reasoning,
                            u.prompt_cache_hit_tokens, u.prompt_cache_miss_tokens, ts, ts)
                    for col, val in zip(turns.values(), vals):
                        col.append(val)
            elif t is m.Compact or t is m.LegacyCompact:
                ts = v.archived_at
                if t is m.Compact:
                    found = memory is not None and memory.resolve(v.archive_name) is not None
                    vals = (label, slug, name, kind, v.archive_name, found, v.archived_at, i == boundary_index, None)
                else:
                    vals = (label, slug, name, kind, None, None, v.archived_at, i == boundary_index, v.title)
                for col, val in zip(comp.values(), vals):
                    col.append(val)
            c_role.append(role)
            c_guest.append(guest)
            c_event.append(event)
            c_ts.append(ts)
            c_text.append(_text_of(v) if v is not None else None)
        tc = self.columns["tool_calls"]
        for call_id, (tname, inp, call_step, result_step, event_step, started, finished, dur, err) in calls.items():
            vals = (label, slug, call_id, tname, inp, call_step, result_step, event_step, started, finished, dur, err)
            for col, val in zip(tc.values(), vals):
                col.append(val)


def build_tables(stores: Iterable[tuple[str, Store]], progress: Callable[[int, int], None] | None = None) -> TableSet:
    ts = TableSet()
    for label, store in stores:
        ts.add_store(label, store, progress)
    return ts
