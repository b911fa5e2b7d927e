"""A store whose session directories are odd in every way a listing meets: names, metas, links.

For comparing ``ls --quick`` against ``tests/support/ls_reference.py``:
names that are not UTF-8, wide and invisible characters, controls, slugs
of the wrong shape, pairs whose latest depends on ``sender_slug`` and on
Rust's integer parsing, metas missing, empty, corrupt, not canonical, too
big for one read, a directory or a FIFO, and sessions that are symlinks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import encode

U64_MAX = (1 << 64) - 1

TITLES = [
    "plain",
    "",
    "宽字符的标题，比二十八个单元格还要宽得多的一行字",
    "emoji 🦀🦀🦀 and a ZWJ family 👩\u200d👩\u200d👧",
    "combining e\u0301\u0301 and a\u0300",
    "tab\there, newline\nthere, CR\rthere",
    "\x1b[31mred\x1b[0m \x9b2J \x07bell \x7fdel",
    "bidi \u202eevil\u202c and tag \U000e0041\U000e0042",
    "x" * 200,
    "\u3000ideographic space and \ufeffBOM",
]


def _meta(title: str, updated: str = "2026-11-20T10:00:00Z", count: int = 1) -> bytes:
    return encode(m.Meta(agent="a", created_by="b", created_at="2026-11-20T09:00:00Z", title=title, updated_at=updated, message_count=count))


def _session(sessions: Path, name: str | bytes, meta: bytes | None = None, steps: list[str | bytes] = ()) -> Path:
    d = sessions / os.fsdecode(name)
    d.mkdir()
    if meta is not None:
        (d / "meta").write_bytes(meta)
    for s in steps:
        (d / os.fsdecode(s)).write_bytes(b'{"message":{"role":"user","content":[]}}')
    return d


def build_odd_listing_store(base: Path) -> Path:
    """The store's root (``base/root``); ``base/outside`` holds what symlinks point at."""
    w = DaemonWriter(base / "root")
    sd = w.sessions_dir
    for i, title in enumerate(TITLES):  # odd titles in well-formed sessions
        slug = w.create_session("crab", f"t{i}", title=title)
        w.append_raw(slug, b'{"message":{"role":"user","content":[]}}')
    # pairs: sender_slug lowercases, seqs parse the Rust way, the largest u32 wins, a tie goes to directory order
    for name in ["Crab_User_3", "crab_user_2", "crab_user_+4", "crab_user_04", "crab_user_4294967295",
                 "crab_user_4294967296", "crab_user_x", "crab_user_", "tg:1_u_1", "tg-1_u_2"]:
        _session(sd, name, _meta(name))
    # slugs of the wrong shape, wide, long, with controls, not UTF-8
    for name in ["noparts", "two_parts", "a_b_c_1", "_x_1", "宽_字_1", "a\x1b[2J_b_1", "a\u202e_b_1",
                 "s" * 80 + "_u_1", "crab_\u200bzw_1", b"crab_\xff\xfe_1", b"\xe9t\xe9_u_1"]:
        _session(sd, name, _meta("odd slug"), ["step-000001"])
    # metas: every way one can fail or need the careful path
    _session(sd, "m_missing_1", None, ["step-000001", "step-000002"])
    _session(sd, "m_empty_1", b"")
    _session(sd, "m_corrupt_1", b'{"agent":"a","created_by":')
    _session(sd, "m_notjson_1", b"\xff\xfe\x1b]0;x\x07")
    _session(sd, "m_spaced_1", json.dumps({"agent": "a", "created_by": "b", "created_at": "c", "title": "spaced"}, indent=1).encode())
    _session(sd, "m_unknown_1", b'{"agent":"a","created_by":"b","created_at":"c","title":"extra key","x":[1,{"y":2}]}')
    _session(sd, "m_bigcount_1", _meta("u64 max", count=U64_MAX))
    _session(sd, "m_overflow_1", b'{"agent":"a","created_by":"b","created_at":"c","message_count":18446744073709551616}')
    _session(sd, "m_updated_1", _meta("odd updated", updated="\x1b[2J2026-11-20T10:00:00Z with more than thirty chars"))
    _session(sd, "m_noupdated_1", _meta("no updated", updated=""))
    _session(sd, "m_exact_chunk_1", _meta("exactly one read's worth") + b" " * ((1 << 16) - len(_meta("exactly one read's worth"))))
    _session(sd, "m_big_1", _meta("a meta bigger than a read " + "y" * 70_000))
    d = _session(sd, "m_dir_1")
    (d / "meta").mkdir()
    d = _session(sd, "m_fifo_1")
    os.mkfifo(d / "meta")
    d = _session(sd, "m_dangling_1")
    (d / "meta").symlink_to("nowhere")
    # step names: tmp leftovers, not UTF-8, near misses
    _session(sd, "steps_odd_1", _meta("odd steps"),
             ["step-000001", "step-000002.tmp.1.x", b"step-\xff", "Step-000003", "stepx", "step-", "notes"])
    # symlinks: to a session inside, to a directory outside, dangling, to a file; and a plain file
    outside = base / "outside"
    outside.mkdir()
    _session(outside, "elsewhere", _meta("outside the store"), ["step-000001"])
    (sd / "crab_link_9").symlink_to(sd / "Crab_User_3")
    (sd / "crab_out_1").symlink_to(outside / "elsewhere")
    (sd / "crab_dangling_1").symlink_to(outside / "nothing")
    (sd / "crab_file_1").write_bytes(b"not a directory")
    (sd / "crab_filelink_1").symlink_to(sd / "crab_file_1")
    return w.root


__all__ = ["build_odd_listing_store", "TITLES"]
