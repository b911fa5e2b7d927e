"""A JSON parser that accepts and rejects exactly what serde_json does.

This is the *exact* path of the step decoder (see ``decode.py``): it is used
only for files that the fast msgspec path cannot vouch for. It keeps what a
normal JSON parser throws away but serde's derive code looks at:

- every key of an object, duplicates included, in order (``JObj.pairs``);
- the kind of every number: an ``int`` is what serde_json calls U64/I64,
  a ``float`` is F64 (``-0``, integers past u64/i64, anything with a
  fraction or exponent), with the value serde_json's own (not correctly
  rounded) arithmetic gives it (``numbers.py``);
- byte offsets of every value, so errors found later (a wrong type deep
  inside a message) can still point at the bytes.

Two modes mirror serde_json's two ways of reading:

- ``strict=True``: everything is validated as it is read, as when serde
  buffers a whole document into its ``Content`` type (what the untagged
  ``StepLine`` enum does): invalid UTF-8, lone surrogate escapes and numbers
  serde_json finds out of range anywhere are errors, and nesting stops at 127.
- ``strict=False``: serde_json deserializing a struct directly (what the
  daemon does with ``meta``) skips unknown keys' values without validating
  their strings or numbers, and without a depth limit. Such values are kept
  as ``BadStr``/``BadNum`` markers and only become errors where a struct
  field actually reads them.

The parser is iterative, so hostile nesting cannot exhaust Python's stack.
"""

from __future__ import annotations

import re
from typing import Any

from .numbers import OutOfRange, parse_number

MAX_DEPTH = 127  # serde_json's recursion limit (128) is hit by the 128th open bracket

_WS = re.compile(rb"[ \t\n\r]*")
_STR_SIMPLE = re.compile(rb'"([^"\\\x00-\x1f]*)"')
# Possessive quantifiers (Python 3.11+): without them a long string with a
# bad escape near its end backtracks exponentially.
_STR_FULL = re.compile(rb'"((?:[^"\\\x00-\x1f]++|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+)"')
_STR_BODY = re.compile(rb'(?:[^"\\\x00-\x1f]++|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+')
_NUM = re.compile(rb"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|(.))", re.S)
_SIMPLE_ESCAPES = {
    b'"': '"',
    b"\\": "\\",
    b"/": "/",
    b"b": "\b",
    b"f": "\f",
    b"n": "\n",
    b"r": "\r",
    b"t": "\t",
}


class JsonError(Exception):
    """A syntax or validation error at a byte offset, with a partial tree."""

    def __init__(self, message: str, offset: int, partial: Any = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.partial = partial


class JObj:
    """A JSON object with every key kept, in order, with offsets."""

    __slots__ = ("pairs", "start", "end")

    def __init__(self, start: int):
        self.pairs: list[tuple[Any, int, Any, int]] = []  # (key, key_off, value, value_off)
        self.start = start
        self.end = start


class JArr:
    """A JSON array with the offset of each item."""

    __slots__ = ("items", "offs", "start", "end")

    def __init__(self, start: int):
        self.items: list[Any] = []
        self.offs: list[int] = []
        self.start = start
        self.end = start


class _Rejected:
    """A value serde_json would reject if a struct field read it (lax mode only)."""

    __slots__ = ("text", "reason", "offset")

    def __init__(self, text: str, reason: str, offset: int):
        self.text = text
        self.reason = reason
        self.offset = offset

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r}: {self.reason})"


class BadStr(_Rejected):
    """A string: invalid UTF-8, or a lone surrogate escape."""

    __slots__ = ()


class BadNum(_Rejected):
    """A number past f64's range."""

    __slots__ = ()


def line_col(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes, as serde_json counts) of an offset."""
    offset = max(0, min(offset, len(data)))
    line = data.count(b"\n", 0, offset) + 1
    last_nl = data.rfind(b"\n", 0, offset)
    return line, offset - last_nl


def _unescape(raw: bytes, base: int) -> tuple[str | None, str | None, int]:
    """Decode a string body. Returns (text, error, error_offset)."""
    if b"\\" not in raw:
        try:
            return raw.decode("utf-8"), None, 0
        except UnicodeDecodeError as e:
            return raw.decode("utf-8", "replace"), "invalid unicode code point", base + e.start
    parts: list[str] = []
    pos = 0
    error: str | None = None
    err_off = 0
    pending_high: int | None = None  # offset of a leading surrogate awaiting its pair
    high_val = 0
    for m in _ESCAPE.finditer(raw):
        seg = raw[pos : m.start()]
        if seg:
            if pending_high is not None and error is None:
                error, err_off = "lone leading surrogate in hex escape", base + m.start()
                pending_high = None
            try:
                parts.append(seg.decode("utf-8"))
            except UnicodeDecodeError as e:
                parts.append(seg.decode("utf-8", "replace"))
                if error is None:
                    error, err_off = "invalid unicode code point", base + pos + e.start
        hexd, simple = m.group(1), m.group(2)
        if hexd is not None:
            cp = int(hexd, 16)
            if pending_high is not None:
                if 0xDC00 <= cp <= 0xDFFF:
                    parts.append(chr(0x10000 + ((high_val - 0xD800) << 10) + (cp - 0xDC00)))
                else:
                    if error is None:
                        error, err_off = "lone leading surrogate in hex escape", base + m.start()
                    parts.append("\ufffd")
                pending_high = None
            elif 0xD800 <= cp <= 0xDBFF:
                pending_high, high_val = m.start(), cp
            elif 0xDC00 <= cp <= 0xDFFF:
                if error is None:
                    error, err_off = "lone trailing surrogate in hex escape", base + m.start()
                parts.append("\ufffd")
            else:
                parts.append(chr(cp))
        else:
            if pending_high is not None:
                if error is None:
                    error, err_off = "lone leading surrogate in hex escape", base + m.start()
                parts.append("\ufffd")
                pending_high = None
            parts.append(_SIMPLE_ESCAPES[simple])
        pos = m.end()
    seg = raw[pos:]
    if pending_high is not None and error is None:
        error, err_off = "lone leading surrogate in hex escape", base + pos
    if seg:
        try:
            parts.append(seg.decode("utf-8"))
        except UnicodeDecodeError as e:
            parts.append(seg.decode("utf-8", "replace"))
            if error is None:
                error, err_off = "invalid unicode code point", base + pos + e.start
    return "".join(parts), error, err_off


class _Parser:
    __slots__ = ("data", "n", "strict", "stack", "pending", "root", "torn")

    def __init__(self, data: bytes, strict: bool):
        self.data = data
        self.n = len(data)
        self.strict = strict
        self.stack: list[Any] = []  # open containers, outermost first
        self.pending: list[tuple[Any, int]] = []  # per open container: key its next value goes under
        self.root: Any = None
        self.torn: tuple[str, int] | None = None  # a string value cut off by the end of the file

    def fail(self, message: str, offset: int) -> JsonError:
        # Hang every still-open container under its parent so the salvage
        # view can show everything that parsed before the error.
        stack = self.stack
        if self.torn is not None and stack:
            text, off = self.torn
            top = stack[-1]
            if isinstance(top, JArr):
                top.items.append(text)
                top.offs.append(off)
            else:
                k, koff = self.pending[-1]
                top.pairs.append((k, koff, text, off))
        for i in range(len(stack) - 1, 0, -1):
            child, parent = stack[i], stack[i - 1]
            if isinstance(parent, JArr):
                parent.items.append(child)
                parent.offs.append(child.start)
            else:
                k, koff = self.pending[i - 1]
                parent.pairs.append((k, koff, child, child.start))
        partial = stack[0] if stack else self.root
        return JsonError(message, offset, partial)

    def ws(self, pos: int) -> int:
        return _WS.match(self.data, pos).end()  # type: ignore[union-attr]

    def string(self, pos: int, is_value: bool = False) -> tuple[Any, int]:
        data = self.data
        m = _STR_SIMPLE.match(data, pos) or _STR_FULL.match(data, pos)
        if m is None:
            e = _STR_BODY.match(data, pos + 1).end()  # type: ignore[union-attr]
            if e >= self.n:
                if is_value:
                    # a torn write usually ends inside a string: keep what it says
                    text, _err, _off = _unescape(data[pos + 1 : e], pos + 1)
                    self.torn = (text or "", pos)
                raise self.fail("EOF while parsing a string", self.n)
            if data[e] < 0x20:
                raise self.fail("control character (\\u0000-\\u001F) found while parsing a string", e)
            if e + 1 >= self.n:
                raise self.fail("EOF while parsing a string", self.n)
            raise self.fail("invalid escape", e + 1)
        text, error, err_off = _unescape(m.group(1), pos + 1)
        if error is not None:
            if self.strict:
                raise self.fail(error, err_off)
            return BadStr(text or "", error, err_off), m.end()
        return text, m.end()

    def number(self, pos: int) -> tuple[Any, int]:
        data = self.data
        m = _NUM.match(data, pos)
        if m is None:
            # '-' not followed by a digit
            if pos + 1 >= self.n:
                raise self.fail("EOF while parsing a value", self.n)
            raise self.fail("invalid number", pos + 1)
        end = m.end()
        if end < self.n:
            nxt = data[end]
            if nxt in b"0123456789" and m.group(1) is None and m.group(2) is None:
                raise self.fail("invalid number", end)  # a leading zero followed by digits
            if nxt in b".eE" and not (nxt == 0x2E and m.group(1) is not None):
                if nxt == 0x2E and m.group(1) is None and m.group(2) is None:
                    bad = end + 1
                elif nxt in b"eE" and m.group(2) is None:
                    bad = end + 1
                    if bad < self.n and data[bad] in b"+-":
                        bad += 1
                else:
                    bad = end
                if bad >= self.n:
                    raise self.fail("EOF while parsing a value", self.n)
                raise self.fail("invalid number", bad)
        text = m.group(0)
        if m.group(1) is None and m.group(2) is None and len(text) <= 19:
            return (-0.0 if text == b"-0" else int(text)), end  # fits i64/u64: the usual case
        try:
            # serde_json's own arithmetic, not Python's correctly rounded float()
            return parse_number(text), end
        except OutOfRange:
            if self.strict:
                raise self.fail("number out of range", pos) from None
            return BadNum(text.decode("ascii"), "number out of range", pos), end

    def key(self, pos: int, container_start: int) -> tuple[Any, int, int]:
        """Parse `"key" :` at pos; returns (key, key_offset, position after colon + ws)."""
        data = self.data
        if pos >= self.n:
            raise self.fail("EOF while parsing an object", self.n)
        if data[pos] != 0x22:
            raise self.fail("key must be a string", pos)
        key, pos2 = self.string(pos)
        pos3 = self.ws(pos2)
        if pos3 >= self.n:
            raise self.fail("EOF while parsing an object", self.n)
        if data[pos3] != 0x3A:
            raise self.fail("expected `:`", pos3)
        return key, pos, self.ws(pos3 + 1)

    def parse(self) -> Any:
        data, n, stack = self.data, self.n, self.stack
        pos = self.ws(0)
        pending_key = self.pending
        while True:
            # --- read one value at pos ---
            if pos >= n:
                raise self.fail("EOF while parsing a value", n)
            c = data[pos]
            value_off = pos
            if c == 0x7B or c == 0x5B:  # { [
                if self.strict and len(stack) + 1 > MAX_DEPTH:
                    raise self.fail("recursion limit exceeded", pos)
                is_obj = c == 0x7B
                node: Any = JObj(pos) if is_obj else JArr(pos)
                p = self.ws(pos + 1)
                closer = 0x7D if is_obj else 0x5D
                if p < n and data[p] == closer:
                    node.end = p + 1
                    value, pos = node, p + 1
                else:
                    stack.append(node)
                    if is_obj:
                        k, koff, pos = self.key(p, pos)
                        pending_key.append((k, koff))
                    else:
                        pending_key.append((None, 0))
                        pos = p
                    continue
            elif c == 0x22:
                value, pos = self.string(pos, is_value=True)
            elif c == 0x2D or 0x30 <= c <= 0x39:
                value, pos = self.number(pos)
            elif c == 0x74:
                value, pos = self.ident(pos, b"true", True)
            elif c == 0x66:
                value, pos = self.ident(pos, b"false", False)
            elif c == 0x6E:
                value, pos = self.ident(pos, b"null", None)
            else:
                raise self.fail("expected value", pos)
            # --- attach the value and close containers as far as possible ---
            while True:
                if not stack:
                    pos = self.ws(pos)
                    if pos < n:
                        self.root = value
                        raise self.fail("trailing characters", pos)
                    return value
                top = stack[-1]
                if isinstance(top, JArr):
                    top.items.append(value)
                    top.offs.append(value_off)
                    pos = self.ws(pos)
                    if pos >= n:
                        raise self.fail("EOF while parsing a list", n)
                    ch = data[pos]
                    if ch == 0x2C:
                        pos = self.ws(pos + 1)
                        if pos < n and data[pos] == 0x5D:
                            raise self.fail("trailing comma", pos)
                        break
                    if ch == 0x5D:
                        top.end = pos + 1
                        pos += 1
                        stack.pop()
                        pending_key.pop()
                        value, value_off = top, top.start
                        continue
                    raise self.fail("expected `,` or `]`", pos)
                else:
                    k, koff = pending_key[-1]
                    top.pairs.append((k, koff, value, value_off))
                    pos = self.ws(pos)
                    if pos >= n:
                        raise self.fail("EOF while parsing an object", n)
                    ch = data[pos]
                    if ch == 0x2C:
                        pos = self.ws(pos + 1)
                        if pos < n and data[pos] == 0x7D:
                            raise self.fail("trailing comma", pos)
                        k, koff, pos = self.key(pos, top.start)
                        pending_key[-1] = (k, koff)
                        break
                    if ch == 0x7D:
                        top.end = pos + 1
                        pos += 1
                        stack.pop()
                        pending_key.pop()
                        value, value_off = top, top.start
                        continue
                    raise self.fail("expected `,` or `}`", pos)

    def ident(self, pos: int, word: bytes, value: Any) -> tuple[Any, int]:
        end = pos + len(word)
        if self.data.startswith(word, pos):
            return value, end
        # serde_json reports EOF if the input ends inside the word
        got = self.data[pos:end]
        if word.startswith(got) and end > self.n:
            raise self.fail("EOF while parsing a value", self.n)
        for i in range(1, len(word)):
            if pos + i >= self.n:
                raise self.fail("EOF while parsing a value", self.n)
            if self.data[pos + i] != word[i]:
                raise self.fail("expected ident", pos + i)
        raise self.fail("expected ident", pos)  # pragma: no cover - unreachable


def parse(data: bytes, strict: bool = True) -> Any:
    """Parse ``data`` as serde_json would; raise ``JsonError`` where it would."""
    p = _Parser(data, strict)
    try:
        return p.parse()
    except JsonError as e:
        if e.partial is None:
            e.partial = p.root
        raise


def to_python(node: Any) -> Any:
    """The plain value a node stands for (objects: last duplicate wins).

    Iterative: salvage runs it on lax parses of any depth.
    """
    if not isinstance(node, (JObj, JArr)):
        return node.text if isinstance(node, (BadStr, BadNum)) else node
    root: Any = {} if isinstance(node, JObj) else []
    stack: list[tuple[Any, Any]] = [(node, root)]
    while stack:
        src, dst = stack.pop()
        is_obj = isinstance(src, JObj)
        entries = ((k if isinstance(k, str) else getattr(k, "text", str(k)), v) for k, _, v, _ in src.pairs) if is_obj else ((None, v) for v in src.items)
        for key, v in entries:
            if isinstance(v, (JObj, JArr)):
                out: Any = {} if isinstance(v, JObj) else []
                stack.append((v, out))
            else:
                out = v.text if isinstance(v, (BadStr, BadNum)) else v
            if is_obj:
                dst[key] = out  # a later duplicate overwrites, as serde_json::Value does
            else:
                dst.append(out)
    return root
