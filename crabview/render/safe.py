"""Make untrusted step text inert for a terminal (and for any other output).

Every string that came out of a store goes through ``visible`` before it
is shown: C0/C1 control characters (ESC, BEL, NUL, CSI, …) become their
Unicode control pictures or ``\\x..`` escapes, bidi controls and every other
invisible character (Unicode format characters, line/paragraph
separators, default-ignorable code points such as the plane-14 tag
characters used to smuggle hidden text) become ``<U+202E>``-style tags.
Newlines and tabs stay (they are layout, not commands), unless
``multiline=False``.
"""

from __future__ import annotations

import re

# Invisible characters, as character-class ranges: every Unicode format
# character (category Cf: bidi controls, zero-width characters, soft
# hyphen, invisible operators, interlinear annotations, tag characters),
# the line/paragraph separators (Zl, Zp) and the other default-ignorable
# code points (Hangul fillers, Mongolian variation selectors, the whole
# of plane 14). Kept: the emoji variation selectors U+FE00–U+FE0F, which
# only pick a glyph's presentation. A test checks this list against the
# Unicode database.
_INVISIBLE = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160"
    "\u17b4-\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
)
_C0 = "\x00-\x08\x0b-\x1f"  # all but tab and newline
_C1 = "\x7f-\x9f"  # DEL and the 8-bit controls (CSI is U+009B)
_SURROGATES = "\ud800-\udfff"
_UNSAFE = re.compile(f"[{_C0}{_C1}{_INVISIBLE}{_SURROGATES}]")
# The character-class body of everything ``visible(multiline=False)``
# touches: for other modules that build their own escaping (JSON, file names).
UNSAFE_LINE_CLASS = f"{_C0}\t\n{_C1}{_INVISIBLE}{_SURROGATES}"
_UNSAFE_LINE = re.compile(f"[{UNSAFE_LINE_CLASS}]")


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
