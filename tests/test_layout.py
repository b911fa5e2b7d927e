"""FORMAT.md 1, 2 and the file-name rules of 5.1: slugs, sequence numbers,
step numbers, the latest session of a pair, and resolving a root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crabview.store.layout import (
    StoreError,
    find_latest_session,
    next_session_seq,
    parse_slug,
    resolve,
    sender_slug,
    step_number,
)

# --- sender_slug -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, slug",
    [
        # FORMAT.md 2's own examples
        ("Crab", "crab"),
        ("tg:12345", "tg-12345"),
        ("delegate:42", "delegate-42"),
        ("--a__b--", "a-b"),
        # more, from the rule
        ("", ""),
        ("---", ""),
        ("a b\tc", "a-b-c"),
        ("A_B", "a-b"),
        ("x.y@z", "x-y-z"),
        ("MiXeD-Case-99", "mixed-case-99"),
        ("a--b", "a-b"),
        ("_", ""),
        ("ÄÖÜ", "ÄÖÜ"),  # non-ASCII letters keep their case
        ("Élan", "Élan"),
        ("İstanbul", "İstanbul"),
        ("ΣΑΣ", "ΣΑΣ"),
        ("中文用户", "中文用户"),
        ("٣٤", "٣٤"),  # Arabic-Indic digits (Nd) are numeric
        ("x²", "x²"),  # superscript two (No) is numeric
        ("Ⅻ", "Ⅻ"),  # Roman numeral (Nl)
        ("🦀crab", "crab"),  # emoji is neither
        ("a\u200bb", "a-b"),  # zero-width space
        ("ＡＢ", "ＡＢ"),  # fullwidth letters are not ASCII: case kept
    ],
)
def test_sender_slug(raw: str, slug: str) -> None:
    assert sender_slug(raw) == slug


@pytest.mark.parametrize(
    "raw, slug",
    [
        # Rust's char::is_alphanumeric is Alphabetic || Numeric; the Unicode
        # Alphabetic property includes Other_Alphabetic: combining vowel signs
        # (Devanagari, Thai, ...), circled letters, ...
        ("का", "का"),  # U+0915 + U+093E DEVANAGARI VOWEL SIGN AA (Mc, Other_Alphabetic)
        ("กา", "กา"),  # U+0E01 + U+0E32 (Lo) -- control case, plain letters
        ("กั", "กั"),  # U+0E31 THAI MAI HAN-AKAT (Mn, Other_Alphabetic)
        ("Ⓐb", "Ⓐb"),  # U+24B6 CIRCLED LATIN CAPITAL A (So, Other_Alphabetic)
        ("ab\u0345", "ab\u0345"),  # COMBINING GREEK YPOGEGRAMMENI (Mn, Other_Alphabetic)
    ],
)
def test_sender_slug_keeps_other_alphabetic(raw: str, slug: str) -> None:
    assert sender_slug(raw) == slug


@pytest.mark.parametrize("raw", ["a\u0301", "a\u094d"])  # combining acute; virama: not Alphabetic
def test_sender_slug_replaces_non_alphabetic_marks(raw: str) -> None:
    assert sender_slug(raw) == "a"


def test_sender_slug_agrees_with_unicode_alphabetic_property() -> None:
    regex = pytest.importorskip("regex")
    import unicodedata

    alnum = regex.compile(r"[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}]")
    checked = 0
    for cp in range(0x80, 0x30000):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cn", "Cs", "Co"):
            continue  # unassigned in this Python's Unicode tables: versions may differ
        expected = ch if alnum.match(ch) else ""
        assert sender_slug(ch) == expected, (hex(cp), unicodedata.name(ch, "?"))
        checked += 1
    assert checked > 100_000


def test_sender_slug_output_is_a_fixed_point() -> None:
    for raw in ["Crab", "tg:12345", "--a__b--", "ÄÖÜ x", "a b c"]:
        once = sender_slug(raw)
        assert sender_slug(once) == once
        assert "_" not in once


# --- slugs and sequence numbers ---------------------------------------------------


@pytest.mark.parametrize(
    "slug, parsed",
    [
        ("crab_user_1", ("crab", "user", 1)),
        ("crab_tg-12345_12", ("crab", "tg-12345", 12)),
        ("crab_user_+3", ("crab", "user", 3)),  # Rust's u32 parse accepts '+'
        ("crab_user_010", ("crab", "user", 10)),
        ("crab_user_4294967295", ("crab", "user", 4294967295)),
        ("crab_user_4294967296", None),  # past u32
        ("crab_user_-1", None),
        ("crab_user_", None),
        ("crab_user_x", None),
        ("crab_user_1 ", None),
        ("crab_user", None),
    ],
)
def test_parse_slug(slug: str, parsed) -> None:
    got = parse_slug(slug)
    if parsed is None:
        assert got is None
    else:
        assert (got.agent, got.sender, got.seq) == parsed


@pytest.mark.parametrize(
    "name, number",
    [
        ("step-000001", 1),
        ("step-1000000", 1000000),
        ("step-+12", 12),
        ("step-0", 0),
        ("step-18446744073709551615", 18446744073709551615),
        ("step-18446744073709551616", None),
        ("step-abc", None),
        ("step-", None),
        ("step-000003.json", None),
        ("step-000003.tmp.1.2", None),
        ("step--1", None),
        ("step-++1", None),
        ("step- 1", None),
        ("step-1 ", None),
        ("step-١٢", None),  # Rust parses ASCII digits only
        ("Step-000001", None),
        ("meta", None),
    ],
)
def test_step_number(name: str, number) -> None:
    assert step_number(name) == number


def make(sessions: Path, *dirs: str, files: tuple[str, ...] = ()) -> None:
    sessions.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        (sessions / d).mkdir()
    for f in files:
        (sessions / f).write_bytes(b"")


def test_latest_is_the_largest_u32_seq(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    make(s, "crab_user_1", "crab_user_2", "crab_user_10", "crab_user_9")
    assert find_latest_session(s, "Crab", "user") == "crab_user_10"  # numeric, not lexical


def test_latest_accepts_plus_and_leading_zeros(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    make(s, "crab_user_2", "crab_user_+3")
    assert find_latest_session(s, "Crab", "user") == "crab_user_+3"
    make(s, "crab_user_010")
    assert find_latest_session(s, "Crab", "user") == "crab_user_010"


def test_latest_ignores_non_directories_and_bad_seqs(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    make(
        s,
        "crab_user_1",
        "crab_user_4294967296",  # past u32
        "crab_user_5x",
        "crab_user_-7",
        "crab_userx_8",
        "crab_user2_9",
        "Crab_user_50",  # the prefix is the slugged agent
        files=("crab_user_99",),  # a file, not a directory
    )
    assert find_latest_session(s, "Crab", "user") == "crab_user_1"


def test_latest_needs_no_meta_and_slugs_the_names(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    make(s, "researcher_tg-12345_1", "researcher_tg-12345_2")
    # an empty directory (no meta) still counts
    assert find_latest_session(s, "researcher", "tg:12345") == "researcher_tg-12345_2"
    assert find_latest_session(s, "Researcher", "TG:12345") == "researcher_tg-12345_2"


def test_latest_none(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    make(s, "crab_user_x", files=("crab_user_1",))
    assert find_latest_session(s, "crab", "user") is None
    assert find_latest_session(tmp_path / "nope", "crab", "user") is None


def test_next_session_seq(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    assert next_session_seq(s, "Crab", "user") == 1  # no sessions dir yet
    make(s, "crab_user_1", "crab_user_+3", "other_user_50", "crab_user_x")
    assert next_session_seq(s, "Crab", "user") == 4
    # the daemon's next_session_seq does not check that an entry is a directory
    make(s, files=("crab_user_7",))
    assert next_session_seq(s, "Crab", "user") == 8
    make(s, "crab_user_4294967296")
    assert next_session_seq(s, "Crab", "user") == 8


def test_latest_skips_non_utf8_names_safely(tmp_path: Path) -> None:
    s = tmp_path / "sessions"
    make(s, "crab_user_1")
    os.mkdir(os.path.join(os.fsencode(s), b"crab_user_\xff"))
    assert find_latest_session(s, "crab", "user") == "crab_user_1"


# --- resolving what the user points at (FORMAT.md 1) ---------------------------------


def test_resolve_root_sessions_dir_and_session_dir(demo_store: Path) -> None:
    lay = resolve(demo_store)
    assert lay.sessions_dir == demo_store / "sessions" and lay.session is None
    assert lay.memory_path == demo_store / "memory.db"
    lay = resolve(demo_store / "sessions")
    assert lay.sessions_dir == demo_store / "sessions" and lay.session is None
    lay = resolve(demo_store / "sessions" / "crab_user_1")
    assert lay.session == "crab_user_1" and lay.sessions_dir == demo_store / "sessions"
    assert lay.memory_path == demo_store / "memory.db"


def test_resolve_uses_crabtalk_home(demo_store: Path, monkeypatch) -> None:
    monkeypatch.setenv("CRABTALK_HOME", str(demo_store))
    assert resolve(None).sessions_dir == demo_store / "sessions"


def test_resolve_missing_root_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        resolve(tmp_path / "does-not-exist")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(StoreError):
        resolve(tmp_path / "file")
