"""The one JSON encoder for everything crabview writes as JSON.

``--json`` output of every command, ``tail --json``, the exports and the
mount's ``.json``/``.jsonl`` files all come from ``dumps`` (or ``pretty``
for the capped, human-facing renderings), so they cannot drift apart.

Inert: every character ``safe.visible`` would touch (C0 and C1 controls,
DEL, bidi and invisible format characters, lone surrogates) is written as
a ``\\uXXXX`` escape. The document stays valid JSON that decodes to the
same values, and shows nothing raw in a terminal.

Never recursive: msgspec encodes in C (it refuses very deep values and
lone surrogates); what it refuses goes through an explicit-stack encoder
with the same layout.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, Iterable, Iterator

import msgspec

from .safe import _C1, _INVISIBLE, _SURROGATES

# json.dumps already escapes C0 controls (so \t and \n never appear raw
# inside a string; outside strings JSON is plain ASCII). What it leaves
# raw and we escape: DEL, C1, bidi/invisible format characters, surrogates.
_JSON_UNSAFE = re.compile(f"[{_C1}{_INVISIBLE}{_SURROGATES}]")

_MSGSPEC_ENCODE = msgspec.json.Encoder().encode
_MSGSPEC_FORMAT = msgspec.json.format
_STR = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C, no ASCII escaping

DEPTH_MARK = "… deeper nesting not shown (depth cap {cap})"


def _uescape(mt: re.Match[str]) -> str:
    c = ord(mt.group(0))
    if c > 0xFFFF:  # JSON has only \\uXXXX: a character past the BMP is a surrogate pair
        c -= 0x10000
        return f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}"
    return f"\\u{c:04x}"


def inert_json(text: str) -> str:
    """A JSON text with every unsafe character written as a ``\\uXXXX`` escape."""
    if text.isascii():  # C, at memory speed: of the unsafe characters only DEL is ASCII
        return text.replace("\x7f", "\\u007f") if "\x7f" in text else text
    if _JSON_UNSAFE.search(text) is None:
        return text
    return _JSON_UNSAFE.sub(_uescape, text)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def ascii_json(text: str) -> str:
    """A JSON text with every non-ASCII character written as a ``\\uXXXX``
    escape too (for documents that must be ASCII, e.g. OTLP/JSON here)."""
    text = inert_json(text)  # also DEL, which is ASCII
    if _NON_ASCII.search(text) is None:
        return text
    return _NON_ASCII.sub(_uescape, text)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _STR(v)
    if isinstance(v, int):
        try:
            return int.__repr__(v)
        except ValueError:  # past CPython's int→str digit limit
            return _STR(f"<integer of {v.bit_length():,} bits>")
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return float.__repr__(v)
    return _STR(repr(v))


class _Capped(Exception):
    pass


def _builtins(v: Any) -> Any:
    if isinstance(v, msgspec.Struct):
        try:
            return msgspec.to_builtins(v)
        except (RecursionError, TypeError, ValueError):
            return repr(v)
    return v


def encode_iterative(
    value: Any,
    indent: int | None = None,
    max_depth: int | None = None,
    max_chars: int | None = None,
    spaced: bool = False,
) -> tuple[str, bool]:
    """JSON text of ``value`` with an explicit stack (any depth).

    Layout matches msgspec: compact ``,``/``:`` without ``indent``, and
    ``json.dumps(indent=n)``'s with it.
    Containers deeper than ``max_depth`` become a visible marker string;
    output stops near ``max_chars``; ``spaced`` gives json.dumps' default
    ``, ``/``: `` separators to compact output. Returns (text, capped).
    """
    out: list[str] = []
    size = 0
    # compact like msgspec (",", ":"); indented like json.dumps(indent=n)
    item_sep, key_sep = ",", (":" if indent is None else ": ")
    if spaced and indent is None:
        item_sep, key_sep = ", ", ": "

    def put(s: str) -> None:
        nonlocal size
        out.append(s)
        size += len(s)
        if max_chars is not None and size > max_chars:
            raise _Capped

    def nl(depth: int) -> str:
        return "\n" + " " * (indent * depth) if indent is not None else ""

    # stack entries: (iterator over (key|None, value), is_obj, depth, first)
    stack: list[list[Any]] = []

    def open_value(v: Any, depth: int) -> None:
        v = _builtins(v)
        if isinstance(v, (dict, list, tuple)):
            if not v:
                put("{}" if isinstance(v, dict) else "[]")
                return
            if max_depth is not None and depth >= max_depth:
                put(_STR(DEPTH_MARK.format(cap=max_depth)))
                return
            is_obj = isinstance(v, dict)
            put("{" if is_obj else "[")
            it = iter(v.items()) if is_obj else iter(v)
            stack.append([it, is_obj, depth + 1, True])
            return
        put(_scalar(v))

    capped = False
    try:
        open_value(value, 0)
        while stack:
            top = stack[-1]
            it, is_obj, depth, first = top
            try:
                nxt = next(it)
            except StopIteration:
                stack.pop()
                put(nl(depth - 1) + ("}" if is_obj else "]"))
                continue
            put(("" if first else item_sep) + nl(depth))
            top[3] = False
            if is_obj:
                k, v = nxt
                put((_STR(k) if isinstance(k, str) else _STR(str(k))) + key_sep)
            else:
                v = nxt
            open_value(v, depth)
    except _Capped:
        capped = True
    return "".join(out), capped


def dumps(value: Any, indent: int | None = None) -> str:
    """Inert JSON of any value (complete, never raises, never recursive)."""
    try:
        raw = _MSGSPEC_ENCODE(value)
        if indent:
            raw = _MSGSPEC_FORMAT(raw, indent=indent)
        text = raw.decode("utf-8")
    except (TypeError, ValueError, UnicodeError, OverflowError, RecursionError, msgspec.EncodeError):
        text, _ = encode_iterative(value, indent)
    return inert_json(text)


def pretty(value: Any, indent: int | None = 2, max_depth: int = 200, max_chars: int = 1_000_000) -> str:
    """Capped, inert JSON for people (pretty with ``indent``): deeper
    nesting becomes a marker, and a long rendering ends with a visible note."""
    text, capped = encode_iterative(value, indent, max_depth=max_depth, max_chars=max_chars, spaced=True)
    if capped:
        text += f"\n… rendering cut at {max_chars:,} characters (the rest of the value is not shown)"
    return inert_json(text)


# --- streaming documents -------------------------------------------------------------


class StreamList:
    """A JSON array whose items come from an iterator, encoded as they come."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]):
        self.items = items


class StreamObject:
    """A JSON object whose (key, value) pairs come from an iterator; a
    value may itself be a StreamList, StreamObject or Deferred."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Iterable[tuple[str, Any]]):
        self.pairs = pairs


class Deferred:
    """A value computed when the encoder reaches it (a count known only
    after the streamed parts before it)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]):
        self.make = make


def _indented(text: str, pad: str) -> str:
    # JSON strings hold no raw newline, so every newline is layout
    return text.replace("\n", "\n" + pad) if pad else text


# Plain items of a StreamList are encoded this many at a time: one msgspec
# call per batch instead of one per item (a step's encoding is ~1 µs of
# work behind ~5 µs of calls); still a few hundred KB at most.
STREAM_BATCH = 128
_NOTHING = object()
_REFUSED = (TypeError, ValueError, UnicodeError, OverflowError, RecursionError, msgspec.EncodeError)


def _plain(v: Any) -> bool:
    return not isinstance(v, (StreamList, StreamObject, Deferred))


def _batch_text(batch: list[Any], indent: int | None, depth: int) -> str:
    """The items of ``batch`` as they stand in an array at ``depth``, joined
    by their separators (without the newline and indentation before the first)."""
    pad = " " * (indent * (depth - 1)) if indent else ""
    if len(batch) > 1:
        try:
            raw = _MSGSPEC_ENCODE(batch)
            if indent:
                raw = _MSGSPEC_FORMAT(raw, indent=indent)
            text = raw.decode("utf-8")
        except _REFUSED:
            pass
        else:
            if not indent:
                return inert_json(text[1:-1])
            # "[\n" + items one level in + "\n]": drop the brackets and the
            # first item's own indentation, shift the rest to ``depth``
            return inert_json(_indented(text[2 + indent : -2], pad))
    sep = "," + ("\n" + pad + " " * indent if indent else "")
    inner_pad = pad + " " * indent if indent else ""
    return sep.join(_indented(dumps(v, indent), inner_pad) for v in batch)


def iter_dumps(value: Any, indent: int | None = None) -> Iterator[str]:
    """``dumps(value, indent)`` in pieces, byte for byte: StreamList and
    StreamObject parts are encoded as their items come (plain list items a
    batch at a time), so a document of any length is written with the
    memory of a batch.

    An explicit stack over the stream wrappers (our own, a few levels);
    plain values go through msgspec, so the layout is ``dumps``'s.
    """
    if isinstance(value, Deferred):
        value = value.make()
    if _plain(value):
        yield dumps(value, indent)
        return
    item_sep, key_sep = ",", (":" if indent is None else ": ")

    def nl(depth: int) -> str:
        return "\n" + " " * (indent * depth) if indent else ""

    # entries: [iterator, is_obj, depth, first, an item taken but not yet written]
    stack: list[list[Any]] = []

    def open_streamed(v: Any, depth: int) -> str:
        is_obj = isinstance(v, StreamObject)
        stack.append([iter(v.pairs if is_obj else v.items), is_obj, depth + 1, True, _NOTHING])
        return "{" if is_obj else "["

    pending = open_streamed(value, 0)  # the opening bracket waits: an empty container is "[]"/"{}"
    while stack:
        top = stack[-1]
        it, is_obj, depth, first, nxt = top
        if nxt is not _NOTHING:
            top[4] = _NOTHING
        else:
            nxt = next(it, _NOTHING)
            if nxt is _NOTHING:
                stack.pop()
                if first:
                    yield pending + ("}" if is_obj else "]")
                else:
                    yield nl(depth - 1) + ("}" if is_obj else "]")
                pending = ""
                continue
        piece = pending + ("" if first else item_sep) + nl(depth)
        pending = ""
        top[3] = False
        if is_obj:
            k, v = nxt
            piece += dumps(k if isinstance(k, str) else str(k)) + key_sep
        else:
            v = nxt
        if isinstance(v, Deferred):
            v = v.make()
        if not _plain(v):
            yield piece
            pending = open_streamed(v, depth)
            continue
        if is_obj:
            yield piece + _indented(dumps(v, indent), " " * (indent * depth) if indent else "")
            continue
        batch = [v]
        while len(batch) < STREAM_BATCH:
            more = next(it, _NOTHING)
            if more is _NOTHING:
                break
            if not _plain(more):
                top[4] = more  # written next round, after this batch
                break
            batch.append(more)
        yield piece + _batch_text(batch, indent, depth)
    if pending:
        yield pending


__all__ = ["inert_json", "ascii_json", "dumps", "pretty", "encode_iterative", "iter_dumps", "StreamList", "StreamObject", "Deferred", "DEPTH_MARK"]
