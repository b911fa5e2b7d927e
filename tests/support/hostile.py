"""A hostile crabtalk store: everything an attacker can put in one.

Test support, not product code. ``build_hostile_store`` writes (through the
daemon-like writer where the daemon could have written it) names and
content with CSI/OSC/BEL, Rich/Textual markup including ``@click``
actions, bidi and invisible characters, C1 and DEL; deep nesting and huge
steps; a sparse huge memory.db and meta; symlinks leading out of the root;
a hard link to a step; names the daemon never reads. ``make_unreadable``
and ``snapshot`` help the tests check that nothing is ever changed.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.memory import encode_memory

# What a store may say to a terminal, a widget or the palette.
OSC_TITLE = "\x1b]0;pwned\x07"
CSI_RED = "\x1b[31mRED"
CLEAR = "\x1b[2J"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"
BIDI = "\u202eevil\u202c"
INVISIBLE = "a\u200bb\u2066c\u2069"
C1 = "\x85\x9b31m\x9d0;t\x07"
DEL = "x\x7fy"
CLICK_SCREENSHOT = "[@click=app.screenshot('x.svg')]X"
CLICK_QUIT = "[@click=app.quit]Q"
RICH = "[bold red]rich[/] [link=https://evil.example]l[/link]"
HOSTILE_TEXT = " ".join([OSC_TITLE, CSI_RED, CLEAR, OSC8, BIDI, INVISIBLE, C1, DEL, CLICK_SCREENSHOT, CLICK_QUIT, RICH, "\x00\x07end"])
ARCHIVE_NAME = "a\u001b]0;pwned\u0007\u001b[31mRED"
EVIL_STEP_NAME = "step-\x1b[2Jclear"

# Raw bytes that must never reach any output (C0 but tab/newline, DEL, C1, bidi, invisibles).
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def raw_controls(text: str) -> list[str]:
    """Every raw control/format character in ``text`` (should be none)."""
    return sorted({f"U+{ord(c):04X}" for c in _RAW.findall(text)})


@dataclass
class HostileStore:
    root: Path
    outside: Path  # a directory outside the root, with a "secret"
    secret: Path
    hard_link: Path  # outside the root: a hard link to a step file
    linked_step: Path  # the step the hard link shares its inode with
    slugs: dict[str, str] = field(default_factory=dict)  # role -> slug

    @property
    def sessions(self) -> Path:
        return self.root / "sessions"


def entry(text: str, role: str = "user") -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message(role, [m.TextBlock(text)]))


def build_hostile_store(base: Path, huge: bool = True, sparse_gb: int = 4) -> HostileStore:
    """Write the hostile store under ``base`` (root ``base/root``, outside things in ``base/outside``)."""
    outside = base / "outside"
    outside.mkdir(parents=True)
    secret = outside / "shadow"
    secret.write_text("root:$6$SECRET-HASH:19000:0:99999:7:::\n")
    w = DaemonWriter(base / "root")

    # 1. markup and escapes in every text field, names included
    evil = w.create_session("crab", "user", title=CLICK_SCREENSHOT)
    w.write_meta(evil, m.Meta(agent="crab" + CSI_RED, created_by="user" + OSC_TITLE, created_at="2026-11-20T10:00:00Z" + BIDI,
                              title=CLICK_SCREENSHOT, updated_at="2026-11-20T10:00:00Z"))
    w.append(evil, entry(HOSTILE_TEXT))
    w.append(evil, m.HistoryEntry(message=m.Message("assistant", [
        m.ThinkingBlock(HOSTILE_TEXT),
        m.ToolUseBlock("call" + CLEAR, "shell" + OSC_TITLE, {"cmd" + BIDI: HOSTILE_TEXT, "n": [1, {"x": C1}]}),
    ])))
    w.append(evil, m.HistoryEntry(message=m.Message("tool", [m.ToolResultBlock("call" + CLEAR, HOSTILE_TEXT)])))
    w.append(evil, m.ToolStartEvent([m.ToolCall("c1" + CLEAR, "t" + OSC_TITLE, HOSTILE_TEXT)], "ts" + BIDI))
    w.append(evil, m.UserSteeredEvent(HOSTILE_TEXT, "ts"))
    w.add_note(ARCHIVE_NAME, HOSTILE_TEXT, aliases=[CLICK_QUIT])
    w._memory[-1] = m.MemoryEntry(w._memory[-1].id, 0, "archive", ARCHIVE_NAME, HOSTILE_TEXT, [CLICK_QUIT])
    w.write_memory()
    w.append(evil, m.Compact(archive_name=ARCHIVE_NAME, archived_at="now" + CSI_RED))
    w.append(evil, entry("after the compact " + HOSTILE_TEXT))
    w.append(evil, m.LegacyCompact(compact=HOSTILE_TEXT, title=CLICK_QUIT))
    (w.sessions_dir / evil / EVIL_STEP_NAME).write_bytes(m_json(entry("step named to clear the screen")))
    (w.sessions_dir / evil / ("step-000099.tmp.1." + OSC_TITLE)).write_bytes(b'{"message":')
    (w.sessions_dir / evil / "notes.txt").write_text("the daemon never reads this")
    (w.sessions_dir / evil / "Step-000001").write_text("nor this")
    w.append_raw(evil, ("not json " + HOSTILE_TEXT).encode())
    w.append_raw(evil, b"\xff\xfe\x1b]0;bytes\x07")

    # 2. a session directory named with markup and escapes
    named = f"{CLICK_QUIT}_x{CSI_RED}_1"
    (w.sessions_dir / named).mkdir()
    (w.sessions_dir / named / "meta").write_bytes(m_json(m.Meta(agent="a", created_by="b", created_at="c", title=CLICK_QUIT)))
    (w.sessions_dir / named / "step-000001").write_bytes(m_json(entry(HOSTILE_TEXT)))

    # 3. deep nesting and huge steps
    deep = w.create_session("deep", "user", title="deep steps")
    w.append_raw(deep, b"[" * 1000)
    w.append_raw(deep, b"[" * 1_000_000 + b"]" * 1_000_000)
    w.append_raw(deep, b'{"a":' * 200_000)
    if huge:
        w.append_raw(deep, b"[" * 10_000_000)
    w.append(deep, entry("still here after the deep ones"))

    # 4. symlinks out of the root: a session dir, a step, meta
    etc_like = outside / "etc"
    etc_like.mkdir()
    (etc_like / "shadow").write_text("root:$6$SECRET-HASH-2:::\n")
    (etc_like / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink(etc_like, w.sessions_dir / "crab_etc_1")
    linked = w.create_session("crab", "linked", title="a step links out")
    w.append(linked, entry("a normal step"))
    os.symlink(secret, w.sessions_dir / linked / "step-000002")

    # 5. a hard link (outside the root) to a step: export -o must refuse it
    hard_link = outside / "looks-harmless.md"
    linked_step = w.sessions_dir / linked / "step-000001"
    os.link(linked_step, hard_link)

    # 6. sparse huge files: memory.db (zeros: a bad header at byte 0) and meta
    big = w.create_session("big", "meta", title="huge meta")
    if huge:
        with open(w.sessions_dir / big / "meta", "r+b") as f:
            f.truncate(256 << 20)  # zeros after the JSON: trailing characters
    store = HostileStore(w.root, outside, secret, hard_link, linked_step)
    store.slugs = {"evil": evil, "named": named, "deep": deep, "linked": linked, "big": big, "etc": "crab_etc_1"}
    if huge and sparse_gb:
        sparse_memory(w.root / "memory.db", sparse_gb)
    return store


def m_json(value: object) -> bytes:
    from crabview.store.decode import encode

    return encode(value)


def sparse_memory(path: Path, gigabytes: int) -> None:
    """A sparse memory.db of ``gigabytes`` GB: all zeros (bad magic)."""
    with open(path, "wb") as f:
        f.truncate(gigabytes << 30)


def valid_memory_with_huge_count(path: Path) -> None:
    """A valid header claiming 4 billion entries in a few bytes."""
    data = bytearray(encode_memory([]))
    data[-4:] = (0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def snapshot(*dirs: Path) -> dict[str, tuple]:
    """Every entry under ``dirs`` (links not followed): type, size, mtime, content hash."""
    out: dict[str, tuple] = {}
    for d in dirs:
        todo = [str(d)]
        while todo:
            p = todo.pop()
            try:
                st = os.lstat(p)
            except OSError as e:
                out[p] = ("error", e.errno)
                continue
            if os.path.isdir(p) and not os.path.islink(p):
                out[p] = ("dir", st.st_mode, st.st_mtime_ns)
                try:
                    todo.extend(os.path.join(p, n) for n in os.listdir(p))
                except OSError:
                    pass
            elif os.path.islink(p):
                out[p] = ("link", os.readlink(p))
            else:
                h = hashlib.sha1()
                try:
                    with open(p, "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            if st.st_size > (64 << 20):
                                break  # sparse giants: size and mtime are enough
                            h.update(chunk)
                except OSError:
                    pass
                out[p] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, h.hexdigest())
    return out


def make_unreadable(path: Path) -> None:
    path.chmod(0)


def drop_dac_powers() -> None:
    """preexec_fn: a root child without the power to ignore file modes."""
    import ctypes

    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP


__all__ = [
    "HostileStore", "build_hostile_store", "raw_controls", "snapshot", "make_unreadable", "drop_dac_powers",
    "sparse_memory", "valid_memory_with_huge_count", "HOSTILE_TEXT", "ARCHIVE_NAME", "EVIL_STEP_NAME",
    "CLICK_SCREENSHOT", "CLICK_QUIT",
]
