"""Where things are in a store, and the daemon's rules for names.

FORMAT.md 1-3 and 5.1 (file names): roots, slugs, ``sender_slug``, step
numbers as the daemon's counter reads them, and load order.
"""

from __future__ import annotations

import os
import re
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
    # Rust: Alphabetic or Numeric (Nd, Nl, No). Python's isalnum() covers
    # letters and all three numeric categories.
    return ch.isalnum()


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


def resolve(path: str | os.PathLike[str] | None) -> StoreLayout:
    """Resolve what the user pointed at (FORMAT.md 1). Raises StoreError."""
    p = Path(path).expanduser() if path is not None else default_root()
    if not p.exists():
        raise StoreError(f"{p}: no such file or directory")
    if not p.is_dir():
        raise StoreError(f"{p}: not a directory")
    if not os.access(p, os.R_OK | os.X_OK):
        raise StoreError(f"{p}: permission denied")
    if (p / "sessions").is_dir():
        return StoreLayout(root=p, sessions_dir=p / "sessions")
    if _looks_like_session(p):
        parent = p.parent
        root = parent.parent if parent.name == "sessions" else None
        return StoreLayout(root=root, sessions_dir=parent, session=p.name)
    root = p.parent if p.name == "sessions" else None
    return StoreLayout(root=root, sessions_dir=p)


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
