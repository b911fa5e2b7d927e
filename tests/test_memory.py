"""FORMAT.md 6: memory.db, the archive store.

The bytes here are built by hand with ``struct`` from the layout in
FORMAT.md 6 (not with crabview's encoder), so a mistake in the reader and
the writer cannot cancel out.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from crabview.store.memory import MemoryError_, archive_name, encode_memory, load_memory, parse_memory
from crabview.store.models import MemoryEntry


def s(text: str | bytes) -> bytes:
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<I", len(b)) + b


def entry(eid: int, kind: int, name: str | bytes, content: str | bytes, aliases=(), created: int = 1_700_000_000) -> bytes:
    out = struct.pack("<QQI", eid, created, kind) + s(name) + s(content) + struct.pack("<I", len(aliases))
    return out + b"".join(s(a) for a in aliases)


def header(magic: bytes = b"CRMEM\0", version: int = 1, flags: int = 0) -> bytes:
    return magic + struct.pack("<IH", version, flags) + b"\0\0\0\0"


def db(*entries: bytes, next_id: int = 9, count: int | None = None, **hdr) -> bytes:
    n = len(entries) if count is None else count
    return header(**hdr) + struct.pack("<QI", next_id, n) + b"".join(entries)


GOOD = db(
    entry(1, 1, "crab-user-1-1", "first summary"),
    entry(2, 0, "user-preferences", "short answers", aliases=("prefs", "p")),
    entry(3, 2, "topic-x", "tópico ✓"),
)


def test_header_is_16_bytes() -> None:
    assert len(header()) == 16


def test_parse_good_file() -> None:
    next_id, entries = parse_memory(GOOD)
    assert next_id == 9
    assert [(e.id, e.kind, e.name, e.content, e.aliases) for e in entries] == [
        (1, "archive", "crab-user-1-1", "first summary", []),
        (2, "note", "user-preferences", "short answers", ["prefs", "p"]),
        (3, "topic", "topic-x", "tópico ✓", []),
    ]
    assert entries[0].created_at == 1_700_000_000


def test_empty_store() -> None:
    assert parse_memory(db()) == (9, [])


def test_encoder_writes_the_documented_layout() -> None:
    _, entries = parse_memory(GOOD)
    assert encode_memory(entries, next_id=9) == GOOD


@pytest.mark.parametrize(
    "data, needle",
    [
        (db(magic=b"CRMEM\1"), "magic"),
        (db(magic=b"crmem\0"), "magic"),
        (db(magic=b"SQLite"), "magic"),
        (db(version=0), "version"),
        (db(version=2), "version"),
        (db(flags=1), "flags"),
        (db(flags=0x8000), "flags"),
        (db(entry(1, 3, "n", "c")), "kind"),
        (db(entry(1, 0xFFFFFFFF, "n", "c")), "kind"),
        (db(entry(1, 1, b"bad\xff", "c")), "UTF-8"),
        (db(entry(1, 1, "n", b"caf\xe9")), "UTF-8"),
        (db(entry(1, 1, "n", "c", aliases=(b"\xc3",))), "UTF-8"),
        (db(entry(1, 1, "n", "c"), count=2), "truncated"),
        (b"", "truncated"),
        (b"CRMEM", "truncated"),
    ],
)
def test_malformed_files_are_rejected_with_a_message(data: bytes, needle: str) -> None:
    with pytest.raises(MemoryError_) as exc:
        parse_memory(data)
    assert needle.lower() in str(exc.value).lower()


def test_every_truncation_is_rejected() -> None:
    for n in range(len(GOOD)):
        with pytest.raises(MemoryError_):
            parse_memory(GOOD[:n])


def test_length_prefix_past_the_end_is_truncation() -> None:
    bad = header() + struct.pack("<QI", 1, 1) + struct.pack("<QQI", 1, 0, 1) + struct.pack("<I", 1000) + b"abc"
    with pytest.raises(MemoryError_):
        parse_memory(bad)


# --- load_memory: never raises, says why --------------------------------------------


def test_load_missing(tmp_path: Path) -> None:
    mem = load_memory(tmp_path / "memory.db")
    assert mem.status == "missing" and mem.entries == [] and mem.error


@pytest.mark.parametrize("data", [db(version=2), db(flags=1), db(magic=b"XXXXXX"), GOOD[:-3], db(entry(1, 7, "n", "c"))])
def test_load_unreadable_has_a_message(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "memory.db"
    p.write_bytes(data)
    mem = load_memory(p)
    assert mem.status == "unreadable"
    assert mem.entries == []
    assert isinstance(mem.error, str) and mem.error and "\n" not in mem.error
    assert mem.resolve("crab-user-1-1") is None


def test_load_a_directory_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "memory.db").mkdir()
    mem = load_memory(tmp_path / "memory.db")
    assert mem.status == "unreadable" and mem.error


def test_names_and_aliases_resolve(tmp_path: Path) -> None:
    p = tmp_path / "memory.db"
    p.write_bytes(GOOD)
    mem = load_memory(p)
    assert mem.status == "ok"
    assert mem.resolve("crab-user-1-1").content == "first summary"
    assert mem.resolve("user-preferences").id == 2
    assert mem.resolve("prefs").id == 2
    assert mem.resolve("p").id == 2
    assert mem.resolve("topic-x").kind == "topic"
    assert mem.resolve("PREFS") is None  # exact match
    assert mem.resolve("crab-user-1-2") is None
    assert [e.name for e in mem.archives] == ["crab-user-1-1"]


def test_resolve_is_exact_about_unicode_and_space(tmp_path: Path) -> None:
    p = tmp_path / "memory.db"
    p.write_bytes(db(entry(1, 1, "é", "composed")))
    mem = load_memory(p)
    assert mem.resolve("é").content == "composed"
    assert mem.resolve("e\u0301") is None  # no normalisation
    assert mem.resolve("é ") is None


@pytest.mark.parametrize(
    "slug, n, name",
    [("crab_user_1", 1, "crab-user-1-1"), ("crab_user_1", 2, "crab-user-1-2"), ("researcher_tg-12345_3", 1, "researcher-tg-12345-3-1")],
)
def test_archive_names(slug: str, n: int, name: str) -> None:
    assert archive_name(slug, n) == name


def test_round_trip_through_encoder() -> None:
    entries = [MemoryEntry(5, 7, "archive", "a-1", "x" * 1000, []), MemoryEntry(6, 8, "note", "ñ", "", ["α", "β"])]
    assert parse_memory(encode_memory(entries)) == (7, entries)
