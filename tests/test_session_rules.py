"""FORMAT.md 3, 4 and 7: how the daemon loads (resumes) a session, and the
problems crabview reports about it.

Sessions are written with the daemon-like DaemonWriter (tmp + rename), plus
raw files where a rule needs odd names or bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import encode
from crabview.store.memory import load_memory
from crabview.store.problems import CODES
from crabview.store.session import load_session


def text_entry(text: str, role: str = "user") -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message(role, [m.TextBlock(text)]))


def entry_bytes(text: str) -> bytes:
    return encode(text_entry(text))


EVENT_BYTES = encode(m.ToolResultEvent("c1", 5, "t"))
BROKEN = b'{"message":{"role":"user","content":[{"type":"te'


def session_dir(w: DaemonWriter, slug: str) -> Path:
    return w.sessions_dir / slug


def load(w: DaemonWriter, slug: str):
    return load_session(session_dir(w, slug), load_memory(w.root / "memory.db"))


def put(w: DaemonWriter, slug: str, name: str, data: bytes) -> None:
    (session_dir(w, slug) / name).write_bytes(data)


def names(s) -> list[str]:
    return [st.name for st in s.steps]


def replay_texts(s) -> list[str]:
    return [s.steps[i].value.message.content[0].text for i in s.replay_indices]


def codes(s) -> list[str]:
    return [p.code for p in s.problems]


def problem(s, code: str):
    found = [p for p in s.problems if p.code == code]
    assert found, (code, s.problems)
    return found


@pytest.fixture
def slug(writer: DaemonWriter) -> str:
    return writer.create_session("Crab", "user", "t")


# --- what is a step, and load order --------------------------------------------


def test_steps_are_loaded_in_byte_order(writer, slug) -> None:
    for name in ["step-000010", "step-000002", "step-999999", "step-1000000", "step-000001"]:
        put(writer, slug, name, entry_bytes(name))
    s = load(writer, slug)
    # byte-wise: "step-1000000" < "step-999999" ('1' < '9')
    assert names(s) == ["step-000001", "step-000002", "step-000010", "step-1000000", "step-999999"]
    assert replay_texts(s) == names(s)


def test_tmp_leftover_sorts_right_after_its_step(writer, slug) -> None:
    for name in ["step-000006", "step-000005.tmp.1.2", "step-000005", "step-000004"]:
        put(writer, slug, name, entry_bytes(name))
    assert names(load(writer, slug)) == ["step-000004", "step-000005", "step-000005.tmp.1.2", "step-000006"]


def test_only_names_beginning_with_exactly_step_dash_are_steps(writer, slug) -> None:
    for name in ["Step-000001", "STEP-000002", "step_000003", "xstep-000004", "steps-000005", "step-000006"]:
        put(writer, slug, name, entry_bytes(name))
    s = load(writer, slug)
    assert names(s) == ["step-000006"]
    assert replay_texts(s) == ["step-000006"]


def test_odd_step_names_still_load(writer, slug) -> None:
    for name in ["step-abc", "step-", "step-000003.json", "step-+12"]:
        put(writer, slug, name, entry_bytes(name))
    s = load(writer, slug)
    assert sorted(names(s)) == sorted(["step-abc", "step-", "step-000003.json", "step-+12"])
    assert names(s) == sorted(names(s), key=lambda n: n.encode())
    assert all(st.kind == "entry" for st in s.steps)
    assert len(s.replay_indices) == 4


def test_non_utf8_names_are_passed_over(writer, slug) -> None:
    d = os.fsencode(session_dir(writer, slug))
    with open(os.path.join(d, b"step-\xff\xfe"), "wb") as f:
        f.write(entry_bytes("hidden"))
    put(writer, slug, "step-000001", entry_bytes("seen"))
    s = load(writer, slug)
    assert names(s) == ["step-000001"]
    assert s.load_status == "ok"
    assert replay_texts(s) == ["seen"]


# --- the step counter (next step number) ----------------------------------------------


@pytest.mark.parametrize(
    "present, expected",
    [
        ([], 1),
        (["step-000001", "step-000002"], 3),
        (["step-000001", "step-000007"], 8),  # 1 + the largest, gaps ignored
        (["step-000002", "step-+12"], 13),  # '+' accepted by Rust's parse
        (["step-000002", "step-abc"], 3),
        (["step-000002", "step-"], 3),
        (["step-000002", "step-000009.json"], 3),
        (["step-000002", "step-000009.tmp.1.2"], 3),  # tmp names don't count
        (["step-000002", "step- 9"], 3),
        (["step-000002", "step--9"], 3),
        (["step-000002", "step-1000000"], 1000001),
        (["step-000002", "Step-000009"], 3),
        (["step-000002", "step-00000000000000000000000000009"], 10),  # leading zeros are fine
        (["step-000002", "step-18446744073709551616"], 3),  # past u64: doesn't parse
    ],
)
def test_next_step_number(writer, slug, present: list[str], expected: int) -> None:
    for name in present:
        put(writer, slug, name, EVENT_BYTES)
    assert load(writer, slug).next_step == expected


def test_next_step_counts_a_directory_named_step(writer, slug) -> None:
    # the counter reads names only; any entry named step-<digits> counts
    put(writer, slug, "step-000001", EVENT_BYTES)
    (session_dir(writer, slug) / "step-000004").mkdir()
    assert load(writer, slug).next_step == 5


def test_next_step_matches_what_the_writer_then_uses(writer, slug) -> None:
    for i in range(3):
        writer.append(slug, text_entry(str(i)))
    s = load(writer, slug)
    path = DaemonWriter(writer.root).append(slug, text_entry("after restart"))
    assert path.name == f"step-{s.next_step:06d}"


# --- replay -----------------------------------------------------------------------


def test_no_boundary_replays_every_entry_in_order(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    writer.append(slug, m.ToolResultEvent("c", 1, "t"))
    writer.append(slug, text_entry("b"))
    writer.append(slug, m.UserSteeredEvent("steer", "t"))
    writer.append(slug, text_entry("c"))
    s = load(writer, slug)
    assert s.boundary is None
    assert replay_texts(s) == ["a", "b", "c"]
    assert s.archive is None and s.archive_text is None


def test_events_are_never_replayed(writer, slug) -> None:
    writer.append(slug, m.ToolStartEvent([m.ToolCall("c", "n")], "t"))
    writer.append(slug, m.DoneEvent("m", 1, "end", m.Usage(1, 2, 3), "t"))
    s = load(writer, slug)
    assert [st.kind for st in s.steps] == ["event", "event"]
    assert s.replay_indices == []


def test_replay_starts_at_the_last_compact_and_it_provides_the_archive(writer, slug) -> None:
    writer.append(slug, text_entry("old-1"))
    first = writer.compact(slug, "first summary")
    writer.append(slug, text_entry("mid"))
    second = writer.compact(slug, "second summary")
    writer.append(slug, text_entry("new-1"))
    writer.append(slug, m.ToolResultEvent("c", 1, "t"))
    writer.append(slug, text_entry("new-2"))
    s = load(writer, slug)
    assert (first, second) == ("crab-user-1-1", "crab-user-1-2")
    assert s.boundary is not None and s.boundary.name == "step-000004"
    assert s.archive == second
    assert s.archive_found is True
    assert s.archive_text == "second summary"
    assert replay_texts(s) == ["new-1", "new-2"]
    assert "archive_missing" not in codes(s)


def test_legacy_compact_cuts_history_without_archive(writer, slug) -> None:
    writer.compact(slug, "first summary")
    writer.append(slug, text_entry("before"))
    writer.append(slug, m.LegacyCompact("inline summary", "T", "t"))
    writer.append(slug, text_entry("after"))
    s = load(writer, slug)
    assert s.boundary.kind == "legacy_compact"
    assert s.archive is None
    assert s.archive_found is None
    assert s.archive_text is None
    assert replay_texts(s) == ["after"]


def test_compact_after_legacy_provides_its_archive(writer, slug) -> None:
    writer.append(slug, m.LegacyCompact("inline"))
    writer.append(slug, text_entry("x"))
    name = writer.compact(slug, "archived")
    writer.append(slug, text_entry("y"))
    s = load(writer, slug)
    assert s.archive == name and s.archive_text == "archived"
    assert replay_texts(s) == ["y"]


def test_boundary_as_last_step_replays_nothing(writer, slug) -> None:
    writer.append(slug, text_entry("x"))
    writer.compact(slug, "all of it")
    s = load(writer, slug)
    assert s.replay_indices == [] and s.archive_text == "all of it"


def test_unparsable_compact_is_not_a_boundary(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    writer.append_raw(slug, b'{"archive_name":"x","archived_at":null}')
    writer.append(slug, text_entry("b"))
    s = load(writer, slug)
    assert s.boundary is None
    assert replay_texts(s) == ["a", "b"]


def test_missing_archive_gives_placeholder_text(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    writer.append(slug, m.Compact("crab-user-1-9", "t"))
    writer.append(slug, text_entry("b"))
    s = load(writer, slug)
    assert s.archive == "crab-user-1-9"
    assert s.archive_found is False
    assert s.archive_text == "[archived context unavailable: crab-user-1-9]"
    assert replay_texts(s) == ["b"]
    p = problem(s, "archive_missing")[0]
    assert p.file == "step-000002" and p.slug == slug and "crab-user-1-9" in p.reason


def test_archive_resolves_by_alias(writer, slug) -> None:
    writer.add_note("real-name", "note content", aliases=["crab-user-1-7"])
    writer.append(slug, m.Compact("crab-user-1-7", "t"))
    s = load(writer, slug)
    assert s.archive_found is True and s.archive_text == "note content"


def test_unreadable_memory_db_makes_the_archive_unavailable(writer, slug) -> None:
    writer.compact(slug, "summary")
    (writer.root / "memory.db").write_bytes(b"NOTMEM" + b"\0" * 30)
    s = load(writer, slug)
    assert s.archive_found is False
    assert s.archive_text == "[archived context unavailable: crab-user-1-1]"
    assert "archive_missing" in codes(s)


def test_whole_tmp_leftover_is_loaded_and_replayed(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    tmp = writer.leave_tmp(slug, entry_bytes("from tmp"), whole=True)
    s = load(writer, slug)
    assert tmp.name in names(s)
    assert replay_texts(s) == ["a", "from tmp"]
    p = [p for p in problem(s, "leftover_tmp") if p.file == tmp.name]
    assert p and p[0].slug == slug and p[0].reason


def test_partial_tmp_leftover_is_unparsable_and_reported(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    tmp = writer.leave_tmp(slug, entry_bytes("from tmp"), whole=False)
    s = load(writer, slug)
    st = s.steps[names(s).index(tmp.name)]
    assert st.kind == "unparsable"
    assert replay_texts(s) == ["a"]
    assert any(p.file == tmp.name for p in problem(s, "leftover_tmp"))


def test_unparsable_steps_are_skipped(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    writer.append_raw(slug, BROKEN)
    writer.append(slug, text_entry("b"))
    s = load(writer, slug)
    assert [st.kind for st in s.steps] == ["entry", "unparsable", "entry"]
    assert s.steps[1].error and 0 <= s.steps[1].offset <= len(BROKEN)
    assert replay_texts(s) == ["a", "b"]
    assert s.load_status == "ok"
    p = problem(s, "unparsable_step")[0]
    assert (p.slug, p.file) == (slug, "step-000002") and p.reason


# --- load failures and meta ---------------------------------------------------------


def test_unreadable_step_aborts_the_load(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    (session_dir(writer, slug) / "step-000002").mkdir()
    put(writer, slug, "step-000003", entry_bytes("b"))
    s = load(writer, slug)
    assert s.steps[1].kind == "unreadable"
    assert s.steps[2].kind == "entry"  # the rest is still decoded, for display
    assert s.load_status == "error"
    p = problem(s, "unreadable_step")[0]
    assert (p.slug, p.file) == (slug, "step-000002") and p.reason


def test_unreadable_step_even_if_not_a_number(writer, slug) -> None:
    (session_dir(writer, slug) / "step-zzz").mkdir()
    s = load(writer, slug)
    assert s.load_status == "error"


def test_directory_not_named_step_does_not_abort(writer, slug) -> None:
    (session_dir(writer, slug) / "Step-000002").mkdir()
    (session_dir(writer, slug) / "notes").mkdir()
    writer.append(slug, text_entry("a"))
    s = load(writer, slug)
    assert s.load_status == "ok" and replay_texts(s) == ["a"]


def test_meta_missing_means_the_session_does_not_exist(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    (session_dir(writer, slug) / "meta").unlink()
    s = load(writer, slug)
    assert s.meta_status == "missing"
    assert s.load_status == "none"
    assert s.listed is False
    p = problem(s, "meta_missing")[0]
    assert (p.slug, p.file) == (slug, "meta") and p.reason


@pytest.mark.parametrize(
    "meta",
    [
        b"",
        b"{",
        b"null",
        b'{"agent":"Crab","created_by":"user"}',  # created_at is required
        b'{"agent":"Crab","created_by":"user","created_at":null}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","title":null}',  # default: missing only
        b'{"agent":"Crab","created_by":"user","created_at":"t","message_count":-1}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","message_count":1.0}',
        b'{"agent":"Crab","agent":"Crab","created_by":"user","created_at":"t"}',
        b'\xef\xbb\xbf{"agent":"Crab","created_by":"user","created_at":"t"}',
        b'{"agent":"Cr\xffab","created_by":"user","created_at":"t"}',
        # even a skipped value must be valid JSON syntax, and key names are read
        b'{"agent":"Crab","created_by":"user","created_at":"t","x":"a\x01b"}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","x":01}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","x\xff":1}',
        b'{"agent":"Crab","created_by":"user","created_at":"t"} {}',
    ],
)
def test_corrupt_meta_fails_the_load_and_hides_the_session(writer, slug, meta: bytes) -> None:
    writer.append(slug, text_entry("a"))
    put(writer, slug, "meta", meta)
    s = load(writer, slug)
    assert s.meta_status == "corrupt"
    assert s.load_status == "error"
    assert s.listed is False
    p = problem(s, "meta_corrupt")[0]
    assert (p.slug, p.file) == (slug, "meta") and p.reason


@pytest.mark.parametrize(
    "meta",
    [
        b'{"agent":"Crab","created_by":"user","created_at":"t"}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","topic":"old","uptime_secs":12}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","summary":null}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","summary":"s","message_count":18446744073709551615}',
        b' {"agent":"Crab","created_by":"user","created_at":"t"}\n',
        b'["Crab","user","t"]',  # a struct from an array, positionally
        # meta is deserialized directly (not buffered like a step), so serde_json
        # skips an unknown key's value without validating its strings/numbers
        # and without a depth limit
        b'{"agent":"Crab","created_by":"user","created_at":"t","x":"\xff"}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","x":"\\ud800"}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","x":1e400}',
        b'{"agent":"Crab","created_by":"user","created_at":"t","x":' + b"[" * 300 + b"]" * 300 + b"}",
    ],
)
def test_good_meta(writer, slug, meta: bytes) -> None:
    put(writer, slug, "meta", meta)
    s = load(writer, slug)
    assert s.meta_status == "ok" and s.load_status == "ok" and s.listed is True
    assert s.meta.agent == "Crab" and s.meta.title == ""
    assert not [p for p in s.problems if p.code.startswith("meta")]


def test_meta_that_is_a_directory_fails_the_load(writer, slug) -> None:
    (session_dir(writer, slug) / "meta").unlink()
    (session_dir(writer, slug) / "meta").mkdir()
    s = load(writer, slug)
    assert s.load_status == "error" and s.listed is False
    p = problem(s, "meta_unreadable")[0]
    assert (p.slug, p.file) == (slug, "meta") and p.reason


def test_meta_dangling_symlink_is_missing(writer, slug) -> None:
    (session_dir(writer, slug) / "meta").unlink()
    (session_dir(writer, slug) / "meta").symlink_to("nowhere")
    s = load(writer, slug)
    assert s.load_status == "none" and s.listed is False


def test_dangling_step_symlink_aborts_the_load(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    (session_dir(writer, slug) / "step-000002").symlink_to("nowhere")
    s = load(writer, slug)
    assert s.steps[1].kind == "unreadable" and s.load_status == "error"


def test_step_symlink_to_a_file_is_read_through(writer, slug, tmp_path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(entry_bytes("via link"))
    (session_dir(writer, slug) / "step-000001").symlink_to(target)
    s = load(writer, slug)
    assert s.load_status == "ok" and replay_texts(s) == ["via link"]


def test_meta_defaults(writer, slug) -> None:
    put(writer, slug, "meta", b'{"agent":"Crab","created_by":"user","created_at":"t"}')
    meta = load(writer, slug).meta
    assert (meta.title, meta.updated_at, meta.message_count, meta.summary) == ("", "", 0, None)


# --- problems (FORMAT.md 7) ----------------------------------------------------------


def test_step_gap_is_reported(writer, slug) -> None:
    put(writer, slug, "step-000001", EVENT_BYTES)
    put(writer, slug, "step-000004", EVENT_BYTES)
    s = load(writer, slug)
    p = problem(s, "step_gap")[0]
    assert p.slug == slug and "2" in p.reason and "3" in p.reason


def test_no_gap_no_problem(writer, slug) -> None:
    for i in range(3):
        writer.append(slug, text_entry(str(i)))
    s = load(writer, slug)
    assert s.problems == []


def test_step_numbers_past_999999_are_reported(writer, slug) -> None:
    put(writer, slug, "step-999999", EVENT_BYTES)
    put(writer, slug, "step-1000000", EVENT_BYTES)
    s = load(writer, slug)
    p = problem(s, "step_order")[0]
    assert p.slug == slug and p.file == "step-1000000" and p.reason


def test_lenient_decode_is_reported(writer, slug) -> None:
    writer.append_raw(slug, b'["", ["user", [["text", "array form"]]]]')
    writer.append_raw(slug, b'{"message":{"role":"user","content":[]},"extra":1}')
    s = load(writer, slug)
    assert [st.kind for st in s.steps] == ["entry", "entry"]
    ps = problem(s, "lenient_decode")
    assert {p.file for p in ps} == {"step-000001", "step-000002"}
    assert all(p.slug == slug and p.reason for p in ps)


def test_every_problem_code_is_known_and_complete(demo_store) -> None:
    from crabview.store.store import Store

    store = Store.open(demo_store)
    seen = set()
    for s in store.iter_sessions():
        for p in s.problems:
            assert p.code in CODES
            assert p.severity == CODES[p.code][0]
            assert p.slug == s.slug
            assert p.reason and "\n" not in p.reason
            seen.add(p.code)
    # the demo store carries damage of these kinds (FORMAT.md 7)
    assert {"unparsable_step", "leftover_tmp", "meta_missing", "meta_corrupt", "step_gap", "archive_missing", "lenient_decode"} <= seen


def test_memory_unreadable_is_a_store_problem(writer, slug) -> None:
    from crabview.store.store import Store

    writer.compact(slug, "summary")
    (writer.root / "memory.db").write_bytes(b"CRMEM\0\x02\0\0\0\0\0\0\0\0\0")
    store = Store.open(writer.root)
    ps = [p for p in store.store_problems() if p.code == "memory_unreadable"]
    assert ps and ps[0].file == "memory.db" and "version" in ps[0].reason


def test_message_count_lag_is_not_a_problem(writer, slug) -> None:
    for i in range(3):
        writer.append(slug, text_entry(str(i)))
    writer.touch_meta(slug, message_count=1)
    assert load(writer, slug).problems == []


# --- incremental refresh agrees with a fresh load ------------------------------------


def test_refresh_with_new_names_matches_a_full_load(writer, slug) -> None:
    writer.append(slug, text_entry("a"))
    s = load(writer, slug)
    new = [writer.append(slug, text_entry("b")).name, writer.compact(slug, "sum") and "step-000003",
           writer.append(slug, text_entry("c")).name]
    s.refresh(new)
    fresh = load(writer, slug)
    assert names(s) == names(fresh)
    assert s.replay_indices == fresh.replay_indices
    assert s.archive == fresh.archive == "crab-user-1-1"
    assert s.next_step == fresh.next_step == 5
