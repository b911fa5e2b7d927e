"""Decode one step (or meta) file: the daemon's verdict, fast when it can be.

Fast path: msgspec decodes the bytes straight into the typed model, then
re-encodes it; if the bytes come back identical, the file is in the
canonical form the daemon writes (compact JSON, known keys once each, in
order, no arrays standing in for structs), and for such a file msgspec's
verdict and serde's provably agree. Three gaps remain, all only inside
free-form payloads (tool input, image source, also inside a tool result's
blocks), which are walked: nesting depth (msgspec has no 127 limit),
integers past u64/i64 (serde_json reads them as f64, or fails past f64's
range; msgspec keeps them exact), and floats (serde_json's arithmetic is
not correctly rounded, msgspec's is: each float is re-read the serde_json
way). Such files take the exact path. Floats elsewhere never reach the
fast path: every other number is a typed integer field.

Exact path: everything else goes through ``jsonparse`` + ``serde``, which
follow FORMAT.md 5.1 rule by rule and say why and where a file fails.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from . import models as m
from .jsonparse import MAX_DEPTH, JsonError, line_col, parse, to_python
from .numbers import OutOfRange, parse_number
from .serde import StepMismatch, explain_mismatch, match_meta, match_step


class StepDecode(msgspec.Struct, gc=False):
    """What the daemon makes of one step file's bytes."""

    kind: str
    value: Any = None
    error: str | None = None
    offset: int | None = None
    # serde accepted the file only thanks to a leniency the daemon never
    # writes (array form, ignored keys, numeric tag, duplicate in free-form).
    notes: tuple[str, ...] = ()
    # For a file no variant accepts: why each variant failed, in serde's order.
    variants: tuple[tuple[str, str, int], ...] = ()


class MetaDecode(msgspec.Struct, gc=False):
    meta: m.Meta | None
    error: str | None = None
    offset: int | None = None
    notes: tuple[str, ...] = ()


_ENCODER = msgspec.json.Encoder()
_ENCODE = _ENCODER.encode
_FAST_DECODERS = {
    b"mes": msgspec.json.Decoder(m.HistoryEntry).decode,
    b"age": msgspec.json.Decoder(m.HistoryEntry).decode,
    b"eve": msgspec.json.Decoder(m.Event).decode,
    b"arc": msgspec.json.Decoder(m.Compact).decode,
    b"com": msgspec.json.Decoder(m.LegacyCompact).decode,
}
_META_DECODE = msgspec.json.Decoder(m.Meta).decode
_DecodeError = msgspec.DecodeError
KIND_BY_TYPE: dict[type, str] = {
    m.HistoryEntry: m.KIND_ENTRY,
    m.Compact: m.KIND_COMPACT,
    m.LegacyCompact: m.KIND_LEGACY,
    **{t: m.KIND_EVENT for t in m.EVENT_TYPES},
}
# serde_json reads an integer past u64/i64 as an f64 (changing its value,
# or failing past f64's range); msgspec keeps it exact. Such payloads go to
# the exact path, which does what serde_json does.
_INT_MAX = (1 << 64) - 1
_INT_MIN = -(1 << 63)


# Nesting of a top-level block: entry {, message {, content [, block {.
_BLOCK_DEPTH = 4


def _float_ok(x: float) -> bool:
    """Whether serde_json reads the double msgspec read, from the same text.

    The bytes round-tripped, so the text in the file is msgspec's encoding
    of ``x``; serde_json's arithmetic (``numbers.py``) may land on another
    double, or out of range.
    """
    try:
        return parse_number(_ENCODE(x)) == x
    except OutOfRange:
        return False


def _payload_ok(v: Any, depth: int) -> bool:
    """A free-form payload serde would read as msgspec did.

    msgspec has no 127-level limit, keeps integers past u64/i64 exact and
    rounds floats correctly; serde_json rejects deep nesting, reads big
    integers as f64 and has its own float arithmetic. Only free-form
    payloads can hold any of these (every other field is typed), so only
    they are walked. The usual payload (a flat object of strings) is
    settled without the general walk. ``depth`` is the payload's container
    depth if it is one.
    """
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is dict:
        for y in v.values():
            ty = type(y)
            if ty is not str and ty is not bool and y is not None:
                return _payload_walk(v, depth)
        return depth <= MAX_DEPTH
    return _payload_walk(v, depth)


def _payload_walk(v: Any, depth: int) -> bool:
    stack = [(v, depth - 1)]
    pop, push = stack.pop, stack.append
    while stack:
        x, d = pop()
        t = type(x)
        if t is int:
            if x > _INT_MAX or x < _INT_MIN:
                return False
        elif t is float:
            if not _float_ok(x):
                return False
        elif t is dict or t is list:
            d += 1
            if d > MAX_DEPTH:
                return False
            for y in x.values() if t is dict else x:
                push((y, d))
    return True


def _blocks_ok(blocks: list, depth: int = _BLOCK_DEPTH) -> bool:
    """Every payload in these blocks (and in tool results' blocks) is fine,
    and no block sits deeper than serde_json's limit. Iterative: tool
    results can nest blocks in blocks."""
    stack = [(blocks, depth)]
    while stack:
        items, d = stack.pop()
        if d > MAX_DEPTH:
            return False
        for block in items:
            t = type(block)
            if t is _ToolUse:
                if not _payload_ok(block.input, d + 1):
                    return False
            elif t is _ToolResult:
                if type(block.content) is list:
                    stack.append((block.content, d + 2))  # content [, block {
            elif t is _Image:
                if not _payload_ok(block.source, d + 1):
                    return False
    return True


_FAST_DECODERS_BY_HEAD = {b'{"' + k: v for k, v in _FAST_DECODERS.items()}
_HistoryEntry = m.HistoryEntry
_ToolUse, _ToolResult, _Image = m.ToolUseBlock, m.ToolResultBlock, m.ImageBlock


def decode_fast(data: bytes) -> Any:
    """The decoded value if ``data`` is canonical daemon output, else None.

    None means "ask the exact path", never "unparsable".
    """
    dec = _FAST_DECODERS_BY_HEAD.get(data[:5])
    if dec is None:
        return None
    try:
        value = dec(data)
    except (_DecodeError, UnicodeDecodeError, RecursionError):  # msgspec: bad UTF-8, ~1000 levels
        return None
    if _ENCODE(value) != data:
        return None
    if type(value) is _HistoryEntry and not _blocks_ok(value.message.content):
        return None
    return value


def decode_step(data: bytes) -> StepDecode:
    """The daemon's verdict on one step file's bytes. Never raises."""
    value = decode_fast(data)
    if value is not None:
        return StepDecode(KIND_BY_TYPE[type(value)], value)
    try:
        return decode_step_exact(data)
    except Exception as e:  # a crabview bug must not take the viewer down
        return StepDecode(m.KIND_UNPARSABLE, error=f"crabview internal error while decoding: {e!r}", offset=0)


def decode_step_exact(data: bytes) -> StepDecode:
    """The slow, rule-by-rule decode (also what the tests compare against)."""
    try:
        node = parse(data, strict=True)
    except JsonError as e:
        return StepDecode(m.KIND_UNPARSABLE, error=e.message, offset=e.offset)
    except RecursionError:  # pragma: no cover - the parser is iterative
        return StepDecode(m.KIND_UNPARSABLE, error="recursion limit exceeded", offset=0)
    try:
        value, notes = match_step(node)
    except StepMismatch as e:
        reason, offset = explain_mismatch(node, e)
        variants = tuple((name, str(err), err.offset) for name, err in e.failures)
        return StepDecode(m.KIND_UNPARSABLE, error=reason, offset=offset, variants=variants)
    return StepDecode(m.kind_of(value), value, notes=tuple(notes))


def decode_meta(data: bytes) -> MetaDecode:
    """Decode a ``meta`` file as serde_json::from_slice::<ConversationMeta> does.

    Unlike steps, meta is deserialized directly (not through serde's
    buffering), so values under unknown keys are skipped unvalidated.
    """
    try:
        meta = _META_DECODE(data)
    except (_DecodeError, UnicodeDecodeError, RecursionError):
        pass
    else:
        if _ENCODE(meta) == data:
            return MetaDecode(meta)
    try:
        node = parse(data, strict=False)
        meta, notes = match_meta(node)
    except JsonError as e:
        return MetaDecode(None, e.message, e.offset)
    except Exception as e:  # MatchError
        return MetaDecode(None, str(e), getattr(e, "offset", 0))
    return MetaDecode(meta, notes=tuple(notes))


def encode(value: Any) -> bytes:
    """Canonical bytes for a model value (what the demo writer writes)."""
    return _ENCODE(value)


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


class Salvage(msgspec.Struct):
    """What can still be read from an unparsable file. Not what the daemon sees.

    Bounded whatever the file: only the first ``SALVAGE_BYTES`` are
    examined (``size`` says how many there were), and JSON nested deeper
    than ``SALVAGE_DEPTH`` is cut where it gets that deep (``depth_cut``).
    """

    text: str  # the examined bytes as UTF-8 with invalid sequences replaced
    json: Any = None  # the JSON that parsed (complete, or up to the error)
    json_complete: bool = False
    readable: list[str] = []  # runs of readable text found in the bytes
    size: int = 0  # bytes in the file
    examined: int = 0  # bytes salvage looked at (the rest: "… N more bytes")
    depth_cut: int | None = None  # byte where nesting passed SALVAGE_DEPTH

    @property
    def more_bytes(self) -> int:
        return self.size - self.examined


SALVAGE_BYTES = 1 << 20
SALVAGE_DEPTH = 64
_SALVAGE_RUNS = 200
# Readable: anything but controls, DEL, C1, U+FFFD, bidi/invisible format
# characters and surrogates (one regex pass, not a Python loop per char).
_READABLE = re.compile("[^\x00-\x1f\x7f-\x9f\ufffd\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]{4,}")
_NESTING = re.compile(rb'[\[\]{}"\\]')


def _depth_cut(data: bytes, cap: int) -> int | None:
    """The offset where ``data`` first nests deeper than ``cap`` (strings
    skipped), or None. Iterative; one regex step per bracket or quote."""
    depth = 0
    in_str = False
    skip_to = -1
    for mt in _NESTING.finditer(data):
        i = mt.start()
        if i < skip_to:
            continue
        c = data[i]
        if in_str:
            if c == 0x5C:  # backslash: the next byte is escaped
                skip_to = i + 2
            elif c == 0x22:
                in_str = False
            continue
        if c == 0x22:
            in_str = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > cap:
                return i
        elif c in (0x5D, 0x7D):
            depth -= 1
    return None


def salvage(data: bytes) -> Salvage:
    size = len(data)
    head = data[:SALVAGE_BYTES]
    cut = _depth_cut(head, SALVAGE_DEPTH)
    parse_bytes = head if cut is None else head[:cut]
    text = head.decode("utf-8", "replace")
    try:
        node = parse(parse_bytes, strict=False)
        parsed, complete = to_python(node), cut is None and len(head) == size
    except JsonError as e:
        parsed, complete = (to_python(e.partial) if e.partial is not None else None), False
    except Exception:  # noqa: BLE001 - salvage is best effort and must never raise
        parsed, complete = None, False
    readable = [mt.group(0)[:2000] for _, mt in zip(range(_SALVAGE_RUNS), _READABLE.finditer(text))]
    return Salvage(
        text=text, json=parsed, json_complete=complete, readable=readable,
        size=size, examined=len(head), depth_cut=cut,
    )


def position(data: bytes, offset: int | None) -> tuple[int, int] | None:
    return None if offset is None else line_col(data, offset)
