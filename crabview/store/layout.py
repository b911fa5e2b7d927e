"""Where things are in a store, and the daemon's rules for names.

FORMAT.md 1-3 and 5.1 (file names): roots, slugs, ``sender_slug``, step
numbers as the daemon's counter reads them, and load order.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

STEP_PREFIX = "step-"
TMP_MARK = ".tmp."
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
# Rust's `u64::from_str`: an optional '+', then ASCII digits, nothing else.
_RUST_UINT = re.compile(r"\+?[0-9]+\Z")


class StoreError(Exception):
    """A root that cannot be used; the message is for people."""


def parse_rust_uint(text: str, limit: int) -> int | None:
    """``text.parse::<uN>()`` as Rust does it (``+3`` → 3, ``010`` → 10)."""
    if not _RUST_UINT.match(text):
        return None
    v = int(text)
    return v if v <= limit else None


def is_utf8_name(name: str) -> bool:
    """os.scandir gives undecodable bytes as lone surrogates; the daemon skips such names."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def step_number(name: str) -> int | None:
    """The number the daemon's step counter reads from a name, or None."""
    if not name.startswith(STEP_PREFIX):
        return None
    return parse_rust_uint(name[5:], U64_MAX)


def step_file_name(n: int) -> str:
    return f"step-{n:06d}"


def is_step_name(name: str) -> bool:
    """Names the daemon loads as steps (tmp leftovers included)."""
    return name.startswith(STEP_PREFIX) and is_utf8_name(name)


def load_order_key(name: str) -> bytes:
    # The daemon sorts paths byte-wise; for valid UTF-8 this equals code
    # point order, but say what we mean.
    return name.encode("utf-8", "surrogateescape")


def _rust_is_alphanumeric(ch: str) -> bool:
    # Rust's char::is_alphanumeric is `is_alphabetic() || is_numeric()`:
    # the Unicode *Alphabetic* property (letters, Nl, and Other_Alphabetic:
    # vowel signs such as Devanagari U+093E, Thai U+0E31, circled letters
    # U+24B6...) or a numeric category (Nd, Nl, No). Python's isalnum()
    # misses Other_Alphabetic, so characters it rejects are looked up in
    # _EXTRA_ALNUM (FORMAT.md 2: "alphanumeric (Unicode-aware)").
    if ch.isalnum():
        return True
    cp = ord(ch)
    if cp < 0x345:
        return False
    i = bisect_right(_EXTRA_ALNUM_STARTS, cp) - 1
    return i >= 0 and cp <= _EXTRA_ALNUM[i][1]


def sender_slug(s: str) -> str:
    """The daemon's ``sender_slug``: ``tg:12345`` → ``tg-12345``, ``--a__b--`` → ``a-b``."""
    out = []
    for ch in s:
        if ch == "-" or _rust_is_alphanumeric(ch):
            out.append(ch.lower() if ch.isascii() else ch)
        else:
            out.append("-")
    return "-".join(p for p in "".join(out).split("-") if p)


@dataclass(frozen=True, slots=True)
class Slug:
    agent: str
    sender: str
    seq: int


def parse_slug(slug: str) -> Slug | None:
    """``<agent>_<sender>_<seq>``; slugs of sender_slug'ed names hold no '_'."""
    parts = slug.split("_")
    if len(parts) != 3:
        return None
    seq = parse_rust_uint(parts[2], U32_MAX)
    if seq is None:
        return None
    return Slug(parts[0], parts[1], seq)


@dataclass(frozen=True, slots=True)
class StoreLayout:
    """A resolved root: where the sessions are, and (maybe) one session."""

    root: Path | None  # the crabtalk root (holds sessions/ and memory.db), if known
    sessions_dir: Path
    session: str | None = None  # set when the user pointed at one session dir

    @property
    def memory_path(self) -> Path | None:
        return self.root / "memory.db" if self.root is not None else None

    def session_dir(self, slug: str) -> Path:
        return self.sessions_dir / slug


def default_root() -> Path:
    env = os.environ.get("CRABTALK_HOME")
    return Path(env).expanduser() if env else Path.home() / ".crabtalk"


def _looks_like_session(p: Path) -> bool:
    try:
        with os.scandir(p) as it:
            for e in it:
                if e.name == "meta" or e.name.startswith(STEP_PREFIX):
                    return True
    except OSError:
        return False
    return False


def real_location(path: str | os.PathLike[str]) -> Path:
    """An absolute, real location for what the user typed (``.``, ``..``,
    relative, through symlinks), so that the root, memory.db and the slug
    come from the place itself, not from the spelling.

    One symlink is kept as it is: a session directory that is a symlink
    inside a ``sessions/`` directory. The daemon knows that session by the
    link's name (and its listing skips it), so resolving it would lose the
    slug and the store it belongs to.
    """
    p = Path(path).expanduser()
    if p.name in ("", ".", ".."):  # nothing to keep: "." "../.." "/"
        return Path(os.path.realpath(p))
    parent = Path(os.path.realpath(p.parent))
    here = parent / p.name
    if parent.name == "sessions" and here.is_symlink():
        return here
    return Path(os.path.realpath(here))


def resolve(path: str | os.PathLike[str] | None) -> StoreLayout:
    """Resolve what the user pointed at (FORMAT.md 1). Raises StoreError.

    The path is made absolute and real first (``real_location``); errors
    still name it as the user wrote it.
    """
    given = Path(path).expanduser() if path is not None else default_root()
    typed = os.fspath(path) if path is not None else str(given)  # Path() drops a leading ./
    try:
        os.stat(given)
    except FileNotFoundError:
        raise StoreError(f"{typed}: no such file or directory") from None
    except OSError as e:  # a symlink loop, a name too long, a component not a directory
        raise StoreError(f"{typed}: {e.strerror or e}") from None
    if not given.is_dir():
        raise StoreError(f"{given}: not a directory")
    if not os.access(given, os.R_OK | os.X_OK):
        raise StoreError(f"{given}: permission denied")
    p = real_location(given)
    if (p / "sessions").is_dir():
        return StoreLayout(root=p, sessions_dir=p / "sessions")
    parent = p.parent
    if parent.name == "sessions" and parent != p:
        # Directly under sessions/: a session, whatever it holds (an empty
        # one is a session whose meta is missing, to the daemon).
        return StoreLayout(root=parent.parent, sessions_dir=parent, session=p.name)
    if _looks_like_session(p):
        return StoreLayout(root=None, sessions_dir=parent, session=p.name)
    if p.name != "sessions" and not _holds_sessions(p):
        # A mistyped root must not pass `crabview check` as "0 problems".
        raise StoreError(
            f"{given}: not a crabtalk store (no sessions/ directory, and no session directories holding meta or step- files)"
        )
    root = p.parent if p.name == "sessions" else None
    return StoreLayout(root=root, sessions_dir=p)


def _holds_sessions(p: Path, probe: int = 200) -> bool:
    """Whether some directory below ``p`` looks like a session (a bounded look)."""
    try:
        with os.scandir(p) as it:
            for i, e in enumerate(it):
                if i >= probe:
                    return True  # a big directory of directories: trust the user
                try:
                    if e.is_dir() and _looks_like_session(Path(e.path)):
                        return True
                except OSError:
                    continue
    except OSError:
        return False
    return False


def find_latest_session(sessions_dir: Path, agent: str, sender: str) -> str | None:
    """The daemon's ``find_latest_session``: the largest u32 seq among
    directories (not symlinks) named ``<agent-slug>_<sender-slug>_<seq>``.
    On a tie (``_3`` and ``_03``) the first in directory order wins, as in
    the daemon, which reads the same directory order."""
    prefix = f"{sender_slug(agent)}_{sender_slug(sender)}_"
    best: tuple[int, str] | None = None
    try:
        it = os.scandir(sessions_dir)
    except FileNotFoundError:
        return None
    with it:
        for e in it:
            name = e.name
            if not name.startswith(prefix):
                continue
            try:
                if not e.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            seq = parse_rust_uint(name[len(prefix):], U32_MAX)
            if seq is not None and (best is None or seq > best[0]):
                best = (seq, name)
    return best[1] if best else None


def next_session_seq(sessions_dir: Path, agent: str, sender: str) -> int:
    """The seq the daemon would give a new session of this pair (any entry counts)."""
    prefix = f"{sender_slug(agent)}_{sender_slug(sender)}_"
    best = 0
    try:
        names = os.listdir(sessions_dir)
    except OSError:
        names = []
    for name in names:
        if name.startswith(prefix):
            seq = parse_rust_uint(name[len(prefix):], U32_MAX)
            if seq is not None:
                best = max(best, seq)
    return best + 1


# Code points that Rust's char::is_alphanumeric accepts but Python's
# str.isalnum() rejects: Other_Alphabetic marks and symbols, plus letters
# and digits newer than this Python's Unicode tables. Generated as the
# ranges of `[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}]` (the `regex` package
# 2026.5.9's Unicode tables) minus `str.isalnum()` (Python 3.11,
# Unicode 14.0). The daemon's own Unicode version depends on its rustc, so
# characters assigned in the very latest Unicode releases may still differ.
_EXTRA_ALNUM: tuple[tuple[int, int], ...] = (
    (0x0345, 0x0345), (0x0363, 0x036F), (0x05B0, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2),
    (0x05C4, 0x05C5), (0x05C7, 0x05C7), (0x0610, 0x061A), (0x064B, 0x0657), (0x0659, 0x065F),
    (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06E1, 0x06E4), (0x06E7, 0x06E8), (0x06ED, 0x06ED),
    (0x0711, 0x0711), (0x0730, 0x073F), (0x07A6, 0x07B0), (0x0816, 0x0817), (0x081B, 0x0823),
    (0x0825, 0x0827), (0x0829, 0x082C), (0x088F, 0x088F), (0x0897, 0x0897), (0x08D4, 0x08DF),
    (0x08E3, 0x08E9), (0x08F0, 0x0903), (0x093A, 0x093B), (0x093E, 0x094C), (0x094E, 0x094F),
    (0x0955, 0x0957), (0x0962, 0x0963), (0x0981, 0x0983), (0x09BE, 0x09C4), (0x09C7, 0x09C8),
    (0x09CB, 0x09CC), (0x09D7, 0x09D7), (0x09E2, 0x09E3), (0x0A01, 0x0A03), (0x0A3E, 0x0A42),
    (0x0A47, 0x0A48), (0x0A4B, 0x0A4C), (0x0A51, 0x0A51), (0x0A70, 0x0A71), (0x0A75, 0x0A75),
    (0x0A81, 0x0A83), (0x0ABE, 0x0AC5), (0x0AC7, 0x0AC9), (0x0ACB, 0x0ACC), (0x0AE2, 0x0AE3),
    (0x0AFA, 0x0AFC), (0x0B01, 0x0B03), (0x0B3E, 0x0B44), (0x0B47, 0x0B48), (0x0B4B, 0x0B4C),
    (0x0B56, 0x0B57), (0x0B62, 0x0B63), (0x0B82, 0x0B82), (0x0BBE, 0x0BC2), (0x0BC6, 0x0BC8),
    (0x0BCA, 0x0BCC), (0x0BD7, 0x0BD7), (0x0C00, 0x0C04), (0x0C3E, 0x0C44), (0x0C46, 0x0C48),
    (0x0C4A, 0x0C4C), (0x0C55, 0x0C56), (0x0C5C, 0x0C5C), (0x0C62, 0x0C63), (0x0C81, 0x0C83),
    (0x0CBE, 0x0CC4), (0x0CC6, 0x0CC8), (0x0CCA, 0x0CCC), (0x0CD5, 0x0CD6), (0x0CDC, 0x0CDC),
    (0x0CE2, 0x0CE3), (0x0CF3, 0x0CF3), (0x0D00, 0x0D03), (0x0D3E, 0x0D44), (0x0D46, 0x0D48),
    (0x0D4A, 0x0D4C), (0x0D57, 0x0D57), (0x0D62, 0x0D63), (0x0D81, 0x0D83), (0x0DCF, 0x0DD4),
    (0x0DD6, 0x0DD6), (0x0DD8, 0x0DDF), (0x0DF2, 0x0DF3), (0x0E31, 0x0E31), (0x0E34, 0x0E3A),
    (0x0E4D, 0x0E4D), (0x0EB1, 0x0EB1), (0x0EB4, 0x0EB9), (0x0EBB, 0x0EBC), (0x0ECD, 0x0ECD),
    (0x0F71, 0x0F83), (0x0F8D, 0x0F97), (0x0F99, 0x0FBC), (0x102B, 0x1036), (0x1038, 0x1038),
    (0x103B, 0x103E), (0x1056, 0x1059), (0x105E, 0x1060), (0x1062, 0x1064), (0x1067, 0x106D),
    (0x1071, 0x1074), (0x1082, 0x108D), (0x108F, 0x108F), (0x109A, 0x109D), (0x1712, 0x1713),
    (0x1732, 0x1733), (0x1752, 0x1753), (0x1772, 0x1773), (0x17B6, 0x17C8), (0x1885, 0x1886),
    (0x18A9, 0x18A9), (0x1920, 0x192B), (0x1930, 0x1938), (0x1A17, 0x1A1B), (0x1A55, 0x1A5E),
    (0x1A61, 0x1A74), (0x1ABF, 0x1AC0), (0x1ACC, 0x1ACE), (0x1B00, 0x1B04), (0x1B35, 0x1B43),
    (0x1B80, 0x1B82), (0x1BA1, 0x1BA9), (0x1BAC, 0x1BAD), (0x1BE7, 0x1BF1), (0x1C24, 0x1C36),
    (0x1C89, 0x1C8A), (0x1DD3, 0x1DF4), (0x24B6, 0x24E9), (0x2DE0, 0x2DFF), (0xA674, 0xA67B),
    (0xA69E, 0xA69F), (0xA7CB, 0xA7CF), (0xA7D2, 0xA7D2), (0xA7D4, 0xA7D4), (0xA7DA, 0xA7DC),
    (0xA7F1, 0xA7F1), (0xA802, 0xA802), (0xA80B, 0xA80B), (0xA823, 0xA827), (0xA880, 0xA881),
    (0xA8B4, 0xA8C3), (0xA8C5, 0xA8C5), (0xA8FF, 0xA8FF), (0xA926, 0xA92A), (0xA947, 0xA952),
    (0xA980, 0xA983), (0xA9B4, 0xA9BF), (0xA9E5, 0xA9E5), (0xAA29, 0xAA36), (0xAA43, 0xAA43),
    (0xAA4C, 0xAA4D), (0xAA7B, 0xAA7D), (0xAAB0, 0xAAB0), (0xAAB2, 0xAAB4), (0xAAB7, 0xAAB8),
    (0xAABE, 0xAABE), (0xAAEB, 0xAAEF), (0xAAF5, 0xAAF5), (0xABE3, 0xABEA), (0xFB1E, 0xFB1E),
    (0x10376, 0x1037A), (0x105C0, 0x105F3), (0x10940, 0x10959), (0x10A01, 0x10A03),
    (0x10A05, 0x10A06), (0x10A0C, 0x10A0F), (0x10D24, 0x10D27), (0x10D40, 0x10D65),
    (0x10D69, 0x10D69), (0x10D6F, 0x10D85), (0x10EAB, 0x10EAC), (0x10EC2, 0x10EC7),
    (0x10EFA, 0x10EFC), (0x11000, 0x11002), (0x11038, 0x11045), (0x11073, 0x11074),
    (0x11080, 0x11082), (0x110B0, 0x110B8), (0x110C2, 0x110C2), (0x11100, 0x11102),
    (0x11127, 0x11132), (0x11145, 0x11146), (0x11180, 0x11182), (0x111B3, 0x111BF),
    (0x111CE, 0x111CF), (0x1122C, 0x11234), (0x11237, 0x11237), (0x1123E, 0x11241),
    (0x112DF, 0x112E8), (0x11300, 0x11303), (0x1133E, 0x11344), (0x11347, 0x11348),
    (0x1134B, 0x1134C), (0x11357, 0x11357), (0x11362, 0x11363), (0x11380, 0x11389),
    (0x1138B, 0x1138B), (0x1138E, 0x1138E), (0x11390, 0x113B5), (0x113B7, 0x113C0),
    (0x113C2, 0x113C2), (0x113C5, 0x113C5), (0x113C7, 0x113CA), (0x113CC, 0x113CD),
    (0x113D1, 0x113D1), (0x113D3, 0x113D3), (0x11435, 0x11441), (0x11443, 0x11445),
    (0x114B0, 0x114C1), (0x115AF, 0x115B5), (0x115B8, 0x115BE), (0x115DC, 0x115DD),
    (0x11630, 0x1163E), (0x11640, 0x11640), (0x116AB, 0x116B5), (0x116D0, 0x116E3),
    (0x1171D, 0x1172A), (0x1182C, 0x11838), (0x11930, 0x11935), (0x11937, 0x11938),
    (0x1193B, 0x1193C), (0x11940, 0x11940), (0x11942, 0x11942), (0x119D1, 0x119D7),
    (0x119DA, 0x119DF), (0x119E4, 0x119E4), (0x11A01, 0x11A0A), (0x11A35, 0x11A39),
    (0x11A3B, 0x11A3E), (0x11A51, 0x11A5B), (0x11A8A, 0x11A97), (0x11B60, 0x11B67),
    (0x11BC0, 0x11BE0), (0x11BF0, 0x11BF9), (0x11C2F, 0x11C36), (0x11C38, 0x11C3E),
    (0x11C92, 0x11CA7), (0x11CA9, 0x11CB6), (0x11D31, 0x11D36), (0x11D3A, 0x11D3A),
    (0x11D3C, 0x11D3D), (0x11D3F, 0x11D41), (0x11D43, 0x11D43), (0x11D47, 0x11D47),
    (0x11D8A, 0x11D8E), (0x11D90, 0x11D91), (0x11D93, 0x11D96), (0x11DB0, 0x11DDB),
    (0x11DE0, 0x11DE9), (0x11EF3, 0x11EF6), (0x11F00, 0x11F10), (0x11F12, 0x11F3A),
    (0x11F3E, 0x11F40), (0x11F50, 0x11F59), (0x1342F, 0x1342F), (0x13441, 0x13446),
    (0x13460, 0x143FA), (0x16100, 0x1612E), (0x16130, 0x16139), (0x16D40, 0x16D6C),
    (0x16D70, 0x16D79), (0x16EA0, 0x16EB8), (0x16EBB, 0x16ED3), (0x16F4F, 0x16F4F),
    (0x16F51, 0x16F87), (0x16F8F, 0x16F92), (0x16FF0, 0x16FF6), (0x187F8, 0x187FF),
    (0x18CFF, 0x18CFF), (0x18D09, 0x18D1E), (0x18D80, 0x18DF2), (0x1B132, 0x1B132),
    (0x1B155, 0x1B155), (0x1BC9E, 0x1BC9E), (0x1CCF0, 0x1CCF9), (0x1D2C0, 0x1D2D3),
    (0x1DF25, 0x1DF2A), (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021),
    (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E030, 0x1E06D), (0x1E08F, 0x1E08F),
    (0x1E4D0, 0x1E4EB), (0x1E4F0, 0x1E4F9), (0x1E5D0, 0x1E5ED), (0x1E5F0, 0x1E5FA),
    (0x1E6C0, 0x1E6DE), (0x1E6E0, 0x1E6F5), (0x1E6FE, 0x1E6FF), (0x1E947, 0x1E947),
    (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189), (0x2B739, 0x2B73F),
    (0x2CEA2, 0x2CEAD), (0x2EBF0, 0x2EE5D), (0x31350, 0x33479),
)
_EXTRA_ALNUM_STARTS = tuple(a for a, _ in _EXTRA_ALNUM)
