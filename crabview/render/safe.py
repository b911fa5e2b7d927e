"""Make untrusted step text inert for a terminal (and for any other output).

Every string that came out of a store goes through ``visible`` before it
is shown: C0/C1 control characters (ESC, BEL, NUL, CSI, …) become their
Unicode control pictures or ``\\x..`` escapes, bidi overrides and invisible
format characters become ``<U+202E>``-style tags. Newlines and tabs stay
(they are layout, not commands), unless ``multiline=False``.
"""

from __future__ import annotations

import re

# Bidi embeddings/overrides/isolates, zero-width and other invisible
# format characters, line/paragraph separators, BOM.
_INVISIBLE = "\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
_C0 = "".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A))
_C1 = "".join(chr(c) for c in range(0x80, 0xA0))
_UNSAFE = re.compile(f"[{re.escape(_C0 + _C1 + _INVISIBLE)}\x7f\ud800-\udfff]")
_UNSAFE_LINE = re.compile(f"[{re.escape(_C0 + _C1 + _INVISIBLE)}\x7f\t\n\ud800-\udfff]")


def _picture(m: re.Match[str]) -> str:
    ch = m.group(0)
    c = ord(ch)
    if c == 0x0A:
        return "⏎"
    if c == 0x09:
        return "⇥"
    if c < 0x20:
        return chr(0x2400 + c)  # ␀ … ␟ (ESC is ␛)
    if c == 0x7F:
        return "␡"
    if 0x80 <= c < 0xA0:
        return f"\\x{c:02x}"
    if 0xD800 <= c <= 0xDFFF:
        return f"\\u{c:04x}"
    return f"<U+{c:04X}>"


def visible(text: str, multiline: bool = True) -> str:
    """``text`` with every control/format character made visible."""
    pattern = _UNSAFE if multiline else _UNSAFE_LINE
    if pattern.search(text) is None:
        return text
    return pattern.sub(_picture, text)


def one_line(text: str, width: int = 200) -> str:
    """A single visible line, shortened to ``width`` characters."""
    s = visible(text[: width * 2] if len(text) > width * 2 else text, multiline=False)
    return s if len(s) <= width else s[: width - 1] + "…"


def is_safe(text: str) -> bool:
    return _UNSAFE.search(text) is None
