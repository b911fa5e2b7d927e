"""A second hostile store: variants of issue 9's attacks that the first
generator (``hostile.py``) does not write.

Test support, not product code. Escape families beyond CSI/OSC (OSC 52,
DCS, APC, SOS, PM, 8-bit C1 introducers), invisible format characters
beyond the bidi set (tag characters used for "ASCII smuggling", soft
hyphen, invisible operators, interlinear annotations), names holding
newlines (a forged output line), lone surrogates via JSON escapes, and
markup in every string field the daemon writes (model, stop_reason, tool
names and ids, memory.db names, aliases and contents, step file names).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import encode

OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"
DCS = "\x1bP1$r0m\x1b\\"
APC = "\x1b_apc\x1b\\"
SOS_PM = "\x1bXsos\x1b\\\x1b^pm\x1b\\"
C1_8BIT = "\x9b2J\x9d0;t\x9c\x90q\x9c"
# Invisible (Unicode category Cf) characters that are not bidi controls.
TAG_SMUGGLE = "ok" + "".join(chr(0xE0000 + ord(c)) for c in "rm -rf") + "\U000e007f"
FORMAT_MISC = "a\u00adb\u2061c\u2064d\ufff9e\ufffbf\u180eg\u206ah\U0001d173i"
MARKUP = "[@click=app.quit]Q[/] [b]B[/b] [link=https://evil.example]L[/link] $accent [red on blue]x"
FORGED_LINE = "x\nerror   forged_problem         evil: this line was not printed by crabview"

EVERY_ESCAPE = " ".join([OSC52, DCS, APC, SOS_PM, C1_8BIT, TAG_SMUGGLE, FORMAT_MISC, MARKUP, "\x7f\x00"])


@dataclass
class AttackStore:
    root: Path
    slugs: dict[str, str] = field(default_factory=dict)

    @property
    def sessions(self) -> Path:
        return self.root / "sessions"


def _entry(text: str, role: str = "user") -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message(role, [m.TextBlock(text)]))


def build_attack_store(base: Path) -> AttackStore:
    w = DaemonWriter(base / "root")
    text = EVERY_ESCAPE

    # 1. every string field of every step kind
    s = w.create_session("crab", "user", title=text)
    w.write_meta(s, m.Meta(agent="crab" + OSC52, created_by="u" + TAG_SMUGGLE, created_at="t" + C1_8BIT,
                           title=text + FORGED_LINE, updated_at="u" + DCS, summary=text))
    w.append(s, _entry(text))
    w.append(s, m.HistoryEntry(agent="guest" + MARKUP + APC, message=m.Message("assistant" + SOS_PM, [
        m.ThinkingBlock(text, signature=text),
        m.ToolUseBlock("id" + C1_8BIT, "tool" + MARKUP + OSC52, {"k" + TAG_SMUGGLE: text, "deep": [[[{"x": DCS}]]]}),
        m.ImageBlock({"data": text}),
    ])))
    w.append(s, m.HistoryEntry(message=m.Message("tool", [
        m.ToolResultBlock("id" + C1_8BIT, [m.TextBlock(text), m.ToolResultBlock("inner" + APC, [m.TextBlock(text)], name=MARKUP)],
                          name="tool" + MARKUP + OSC52),
    ])))
    w.append(s, m.ToolStartEvent([m.ToolCall("c" + C1_8BIT, "n" + MARKUP, text)], "ts" + OSC52))
    w.append(s, m.ToolResultEvent("c" + C1_8BIT, 5, "ts" + DCS))
    w.append(s, m.DoneEvent("model" + MARKUP + OSC52, 1, "stop" + C1_8BIT + FORGED_LINE,
                            m.Usage(1, 2, 3, m.CompletionTokensDetails(1)), "ts" + APC))
    w.append(s, m.UserSteeredEvent(text, "ts"))
    arch = "arch" + OSC52 + MARKUP + FORGED_LINE
    w._memory.append(m.MemoryEntry(len(w._memory) + 1, 0, "archive", arch, text, [MARKUP + TAG_SMUGGLE, FORGED_LINE]))
    w._memory.append(m.MemoryEntry(len(w._memory) + 1, 0, "note", "note" + C1_8BIT, text + FORGED_LINE, []))
    w.write_memory()
    w.append(s, m.Compact(archive_name=arch, archived_at="at" + DCS))
    w.append(s, _entry("after " + text))
    # unparsable steps whose error messages quote what they saw
    w.append_raw(s, ('{"message":{"role":"user","content":[{"type":"' + "x\u009b2J" + '"}]}}').encode())
    w.append_raw(s, ('{"event":"' + OSC52 + MARKUP + '","ts":"x"}').encode("utf-8", "surrogatepass").replace(b"\x1b", b"\\u001b").replace(b"\x07", b"\\u0007"))
    w.append_raw(s, b'{"message":{"role":"user","content":[{"type":"text","text":"\\ud800"}]}}')
    w.append_raw(s, b'{"\\u001b]0;k\\u0007' + MARKUP.encode() + b'": 1, "compact": 5}')
    # step file names: escape families and a newline (a forged line)
    sd = w.sessions_dir / s
    for name in ("step-\x1bP1$r\x1b\\", "step-\u009b2J", "step-" + TAG_SMUGGLE, "step-1\n" + FORGED_LINE.replace("/", "_"),
                 "step-[@click=app.quit]Q", "step-000099.tmp.1\x1b]52;c;eA==\x07"):
        (sd / name).write_bytes(encode(_entry("named " + name)))
    (sd / os.fsdecode(b"step-\x9b2J-raw-byte")).write_bytes(encode(_entry("raw 0x9b in the name")))

    # 2. a session directory named with a newline and escape families
    named = "crab_u" + "\x1b]52;c;eA==\x07" + "\n" + "forged_1"
    (w.sessions_dir / named).mkdir()
    (w.sessions_dir / named / "meta").write_bytes(encode(m.Meta(agent="a", created_by="b", created_at="c", title=MARKUP)))
    (w.sessions_dir / named / "step-000001").write_bytes(encode(_entry(text)))
    tagged = "crab_" + TAG_SMUGGLE + "_1"
    (w.sessions_dir / tagged).mkdir()
    (w.sessions_dir / tagged / "meta").write_bytes(encode(m.Meta(agent="a", created_by="b", created_at="c")))

    # 3. a meta whose known keys hold a lone surrogate (meta undecodable; the error quotes it)
    bad = w.create_session("crab", "surrogate")
    (w.sessions_dir / bad / "meta").write_bytes(b'{"agent":"\\udc00\\u001b[2J","created_by":"b","created_at":"c"}')
    w.append(bad, _entry("x"))

    st = AttackStore(w.root)
    st.slugs = {"fields": s, "named": named, "tagged": tagged, "surrogate": bad}
    return st


__all__ = ["AttackStore", "build_attack_store", "EVERY_ESCAPE", "TAG_SMUGGLE", "FORMAT_MISC", "FORGED_LINE", "MARKUP"]


def _is_unsafe(c: str) -> bool:
    import unicodedata

    o = ord(c)
    if o < 0x20:
        return c not in "\t\n"
    if 0x7F <= o < 0xA0 or 0xE0000 <= o <= 0xE0FFF or 0xD800 <= o <= 0xDFFF:
        return True
    return unicodedata.category(c) in ("Cf", "Zl", "Zp")


def unsafe_chars(text: str) -> list[str]:
    """Every raw control, format (Unicode Cf), separator or plane-14
    character in ``text``, judged by the Unicode database rather than by
    the product's own list (which is what is under test)."""
    return sorted({f"U+{ord(c):04X}" for c in set(text) if _is_unsafe(c)})


__all__ += ["unsafe_chars"]
