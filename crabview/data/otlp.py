"""Sessions as OpenTelemetry traces (GenAI semantic conventions).

One trace per session (``gen_ai.conversation.id`` = slug). A *turn* is the
run of steps that ends with a ``done`` event; it becomes an
``invoke_agent`` span carrying the done event's usage as
``gen_ai.usage.*``. Each tool call in the turn becomes an ``execute_tool``
child span, timed from its ``tool_start`` and ``tool_result`` events.
Compact boundaries, unparsable/unreadable steps and steering inside a
turn are span events. Entries carry no timestamps, so a turn starts at its
first timed event. Steps after the last ``done`` are an unfinished turn:
``export`` shows it (``crabview.turn.finished`` false, its own id);
``ship`` sends only finished turns.

Ids are hashes of (store identity, slug, step file, call id), so the same
store always exports the same ids and a receiver can deduplicate a
re-export, or a resend by ``ship``. Message content (texts, tool
arguments and results, steering) is included only when asked for.

This module builds plain span records and their OTLP/JSON form; ``ship``
turns the same records into SDK spans for the OTLP/HTTP exporter.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path
from typing import Any, Iterable, Iterator

import msgspec

from ..render.jsonenc import StreamList, StreamObject, ascii_json, dumps, iter_dumps
from ..store import models as m
from ..store.session import Session, read_ahead
from ..store.store import Store

SCOPE_NAME = "crabview"
PROVIDER_NAME = "crabtalk"  # gen_ai.provider.name (see turn_spans)
CONTENT_LIMIT = 65_536  # characters per content attribute

KIND_INTERNAL = 1
KIND_CLIENT = 3
STATUS_UNSET = 0

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class SpanEvent(msgspec.Struct):
    name: str
    time_ns: int
    attributes: dict[str, Any]


class SpanRecord(msgspec.Struct):
    trace_id: bytes  # 16 bytes
    span_id: bytes  # 8 bytes
    parent_id: bytes | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[SpanEvent] = []
    status_code: int = STATUS_UNSET
    status_message: str = ""


class Turn(msgspec.Struct):
    """Indices into ``Session.steps``: ``first`` up to ``stop`` (exclusive);
    ``done`` is the done event's index, None for the unfinished tail."""

    first: int
    stop: int
    done: int | None


def store_identity(store: Store) -> str:
    """What ids are hashed from: the store's resolved path."""
    base = store.layout.root if store.layout.root is not None else store.sessions_dir
    try:
        return str(Path(base).resolve())
    except OSError:
        return str(base)


def _digest(*parts: str) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.digest()


def trace_id(identity: str, slug: str) -> bytes:
    return _digest("trace", identity, slug)[:16]


def span_id(identity: str, slug: str, step: str, call_id: str = "") -> bytes:
    return _digest("span", identity, slug, step, call_id)[:8]


def parse_ts(ts: Any) -> int | None:
    """RFC 3339 text → Unix nanoseconds, or None (never raises on hostile text)."""
    if not isinstance(ts, str) or not (10 <= len(ts) <= 64):
        return None
    try:
        d = dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    if d.tzinfo is None:
        return None
    return (d - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def turns(s: Session, unfinished: bool = False) -> list[Turn]:
    """Every finished turn in load order, and with ``unfinished`` the steps
    after the last done event (if any) as a last, unfinished turn."""
    out = []
    first = 0
    for i, st in enumerate(s.steps):
        if st.kind == m.KIND_EVENT and type(st.stored) is m.DoneEvent:
            out.append(Turn(first, i + 1, i))
            first = i + 1
    if unfinished and first < len(s.steps):
        out.append(Turn(first, len(s.steps), None))
    return out


def _cap(text: str) -> str:
    return text if len(text) <= CONTENT_LIMIT else text[:CONTENT_LIMIT]


def _json(v: Any) -> str:
    return dumps(v)  # the one encoder (inert, compact, never raises)


def _parts(msg: m.Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for b in msg.content:
        t = type(b)
        if t is m.TextBlock:
            parts.append({"type": "text", "content": b.text})
        elif t is m.ThinkingBlock:
            parts.append({"type": "reasoning", "content": b.thinking})
        elif t is m.ToolUseBlock:
            parts.append({"type": "tool_call", "id": b.id, "name": b.name, "arguments": b.input})
        elif t is m.ToolResultBlock:
            parts.append({"type": "tool_call_response", "id": b.tool_use_id, "response": b.content})
        elif t is m.ImageBlock:
            parts.append({"type": "image"})
    return parts


def turn_spans(identity: str, s: Session, turn: Turn, with_content: bool = False, agent: str | None = None) -> list[SpanRecord]:
    """The invoke_agent span of one turn and its execute_tool children."""
    slug = s.slug
    steps = s.steps
    done_step = steps[turn.done] if turn.done is not None else None
    done: m.DoneEvent | None = done_step.stored if done_step is not None else None  # always kept in memory
    tid = trace_id(identity, slug)
    # a finished turn is named by its done step; the unfinished tail by its
    # first step (it gets a new id once its done event lands)
    root_step = done_step.name if done_step is not None else steps[turn.first].name
    root_id = span_id(identity, slug, root_step, "" if done_step is not None else "unfinished")
    if agent is None:
        meta = s.meta
        agent = meta.agent if meta is not None else (s.parsed_slug.agent if s.parsed_slug else "")
    end_ns = parse_ts(done.ts) if done is not None else None
    times: list[int] = []
    events: list[SpanEvent] = []
    tools: dict[str, dict[str, Any]] = {}
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    guest = ""
    for i, st in read_ahead(steps, range(turn.first, turn.stop if done is None else turn.done)):
        kind = st.kind
        if kind in (m.KIND_UNPARSABLE, m.KIND_UNREADABLE):
            attrs: dict[str, Any] = {"crabview.step": st.name, "crabview.step.kind": kind, "crabview.error": st.error or ""}
            if st.offset is not None:
                attrs["crabview.error.offset"] = st.offset
            events.append(SpanEvent(f"crabview.{kind}_step", -1, attrs))
            continue
        v = st.value
        t = type(v)
        if t is m.HistoryEntry:
            if v.agent:
                guest = v.agent
            for b in v.message.content:
                bt = type(b)
                if bt is m.ToolUseBlock:
                    tools.setdefault(b.id, {"name": b.name, "step": st.name, "args": b.input})
                elif bt is m.ToolResultBlock:
                    d = tools.setdefault(b.tool_use_id, {"name": None, "step": st.name})
                    d["result"] = b.content  # (no error flag: 0.0.22's tool results carry none)
            if with_content:
                msg = {"role": v.message.role, "parts": _parts(v.message)}
                (outputs if v.message.role == "assistant" else inputs).append(msg)
        elif t is m.ToolStartEvent:
            ns = parse_ts(v.ts)
            if ns is not None:
                times.append(ns)
            for c in v.calls:
                d = tools.setdefault(c.id, {"name": c.name, "step": st.name, "args": c.arguments})
                d["start"] = ns
                d.setdefault("args", c.arguments)
                if d.get("name") is None:
                    d["name"] = c.name
        elif t is m.ToolResultEvent:
            ns = parse_ts(v.ts)
            if ns is not None:
                times.append(ns)
            d = tools.setdefault(v.call_id, {"name": None, "step": st.name})
            d["end"] = ns
            d["duration_ms"] = v.duration_ms
        elif t is m.UserSteeredEvent:
            ns = parse_ts(v.ts)
            if ns is not None:
                times.append(ns)
            attrs = {"crabview.step": st.name}
            if with_content:
                attrs["crabview.content"] = _cap(v.content)
            events.append(SpanEvent("crabview.user_steered", ns if ns is not None else -1, attrs))
        elif t is m.Compact or t is m.LegacyCompact:
            ns = parse_ts(v.archived_at)
            is_boundary = s.boundary is not None and s.boundary.index == i
            attrs = {"crabview.step": st.name, "crabview.compact.kind": st.kind, "crabview.replay_boundary": is_boundary}
            if t is m.Compact:
                attrs["crabview.archive.name"] = v.archive_name
                attrs["crabview.archive.found"] = s.memory is not None and s.memory.resolve(v.archive_name) is not None
            elif with_content:
                attrs["crabview.content"] = _cap(v.compact)
            events.append(SpanEvent("crabview.compact", ns if ns is not None else -1, attrs))
    start_ns = min(times) if times else end_ns
    if end_ns is None:
        # an unfinished turn: its last timed event, else when meta last moved
        meta = s.meta
        fallback = (parse_ts(meta.updated_at) or parse_ts(meta.created_at)) if meta is not None else None
        end_ns = max(times) if times else (fallback or 0)
    if start_ns is None or start_ns > end_ns:
        start_ns = end_ns
    for e in events:
        if e.time_ns < 0:
            e.time_ns = start_ns
    agent_name = guest or agent
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        # Required by the conventions: the provider as the instrumentation
        # knows it. The store names the model, never the provider behind it,
        # so the agent runtime that made the calls stands in, as agent
        # frameworks do.
        "gen_ai.provider.name": PROVIDER_NAME,
        "gen_ai.agent.name": agent_name,
        "gen_ai.conversation.id": slug,
        "crabview.step": root_step,
        "crabview.turn.finished": done is not None,
        "openinference.span.kind": "AGENT",
        "session.id": slug,
    }
    if done is not None:
        u = done.usage
        attrs.update({
            "gen_ai.request.model": done.model,
            "gen_ai.response.model": done.model,
            "gen_ai.response.finish_reasons": [done.stop_reason],
            "gen_ai.usage.input_tokens": u.prompt_tokens,
            "gen_ai.usage.output_tokens": u.completion_tokens,
            # counts the conventions have no name for stay out of gen_ai.*
            "crabview.usage.total_tokens": u.total_tokens,
            "crabview.iterations": done.iterations,
        })
        if u.prompt_cache_hit_tokens is not None:
            attrs["gen_ai.usage.cache_read.input_tokens"] = u.prompt_cache_hit_tokens
        if u.prompt_cache_miss_tokens is not None:
            attrs["crabview.usage.prompt_cache_miss_tokens"] = u.prompt_cache_miss_tokens
        details = u.completion_tokens_details
        reasoning = details.reasoning_tokens if details is not None else None
        if reasoning is not None:
            attrs["gen_ai.usage.reasoning.output_tokens"] = reasoning
    if with_content:
        attrs["gen_ai.input.messages"] = _cap(_json(inputs))
        attrs["gen_ai.output.messages"] = _cap(_json(outputs))
    out = [SpanRecord(tid, root_id, None, f"invoke_agent {agent_name}".rstrip(), KIND_INTERNAL, start_ns, end_ns, attrs, events)]
    for call_id, d in tools.items():
        name = d.get("name") or ""
        t0, t1 = d.get("start"), d.get("end")
        dur = d.get("duration_ms")
        if t0 is None and t1 is not None:
            t0 = t1 - (dur or 0) * 1_000_000
        if t0 is None:
            t0 = start_ns
        if t1 is None:
            t1 = t0 + (dur or 0) * 1_000_000
        if t1 < t0:
            t1 = t0
        tattrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.conversation.id": slug,
            "crabview.step": d["step"],
            "openinference.span.kind": "TOOL",
        }
        if dur is not None:
            tattrs["crabview.tool.duration_ms"] = dur
        if with_content:
            if "args" in d:
                a = d["args"]
                tattrs["gen_ai.tool.call.arguments"] = _cap(a if isinstance(a, str) else _json(a))
            if "result" in d:
                r = d["result"]
                tattrs["gen_ai.tool.call.result"] = _cap(r if isinstance(r, str) else _json(r))
        out.append(
            SpanRecord(tid, span_id(identity, slug, d["step"], call_id), root_id, f"execute_tool {name}".rstrip(),
                       KIND_INTERNAL, t0, t1, tattrs, [], STATUS_UNSET, "")
        )
    return out


def iter_session_spans(identity: str, s: Session, with_content: bool = False, unfinished: bool = True) -> Iterator[SpanRecord]:
    """The session's spans, made one turn at a time as they are asked for."""
    for t in turns(s, unfinished):
        yield from turn_spans(identity, s, t, with_content)


def session_spans(identity: str, s: Session, with_content: bool = False, unfinished: bool = True) -> list[SpanRecord]:
    return list(iter_session_spans(identity, s, with_content, unfinished))


def resource_attributes(identity: str) -> dict[str, Any]:
    return {"service.name": "crabtalk", "crabview.store": identity}


# --- OTLP/JSON (the protobuf JSON mapping with hex ids, as OTLP specifies) ------------


def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in d.items()]


def span_json(sp: SpanRecord) -> dict[str, Any]:
    d: dict[str, Any] = {
        "traceId": sp.trace_id.hex(),
        "spanId": sp.span_id.hex(),
        "name": sp.name,
        "kind": sp.kind,
        "startTimeUnixNano": str(sp.start_ns),
        "endTimeUnixNano": str(sp.end_ns),
        "attributes": _attrs(sp.attributes),
    }
    if sp.parent_id is not None:
        d["parentSpanId"] = sp.parent_id.hex()
    if sp.events:
        d["events"] = [{"timeUnixNano": str(e.time_ns), "name": e.name, "attributes": _attrs(e.attributes)} for e in sp.events]
    d["status"] = {"code": sp.status_code, **({"message": sp.status_message} if sp.status_message else {})}
    return d


def request_json(identity: str, spans: Iterable[SpanRecord], version: str = "") -> StreamObject:
    """One ExportTraceServiceRequest in OTLP/JSON, for ``iter_dumps``: the
    spans are turned into JSON as the encoder reaches them."""
    scope = StreamObject(iter([
        ("scope", {"name": SCOPE_NAME, "version": version}),
        ("spans", StreamList(span_json(sp) for sp in spans)),
    ]))
    resource = StreamObject(iter([
        ("resource", {"attributes": _attrs(resource_attributes(identity))}),
        ("scopeSpans", StreamList(iter([scope]))),
    ]))
    return StreamObject(iter([("resourceSpans", StreamList(iter([resource])))]))


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crabview")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return ""


def iter_otlp(store: Store, sessions: Iterable[Session], with_content: bool = False) -> Iterator[str]:
    """OTLP/JSON for ``sessions`` in pieces, written as the spans are made
    (one turn at a time): ASCII only (store text escaped), one line + newline."""
    identity = store_identity(store)
    spans = (sp for s in sessions for sp in iter_session_spans(identity, s, with_content))
    for piece in iter_dumps(request_json(identity, spans, _version())):
        yield ascii_json(piece)
    yield "\n"


def otlp_bytes(store: Store, sessions: Iterable[Session], with_content: bool = False) -> bytes:
    """``iter_otlp`` joined."""
    return "".join(iter_otlp(store, sessions, with_content)).encode("ascii")
