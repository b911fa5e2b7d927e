"""Issue 15, fidelity at the edges: the corrected Usage and tool-result
shapes (FORMAT.md 5, changed 2026-12-01), serde_json 1.0.149's own float
arithmetic, empty session directories, the step counter at u64's end, and
relative or symlinked paths.

Verdicts are the daemon's (the table from the issue comes from a decoder
built from the daemon's serde types); every step goes through both the fast
and the exact path, which must agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from crabview.cli import main
from crabview.demo import DaemonWriter, build_demo
from crabview.store import models as m
from crabview.store.decode import decode_fast, decode_meta, decode_step, decode_step_exact, encode
from crabview.store.numbers import OutOfRange, parse_number
from crabview.store.session import load_session

ENTRY, EVENT, LEGACY, BAD = "entry", "event", "legacy_compact", "unparsable"


def verdict(data: bytes):
    """Both paths; they must agree on the kind and the value."""
    fast, exact = decode_step(data), decode_step_exact(data)
    assert fast.kind == exact.kind, (data[:200], fast, exact)
    if fast.kind == BAD:
        assert fast.error and exact.error
        assert 0 <= fast.offset <= len(data)
    else:
        assert fast.value == exact.value
        assert fast.notes == exact.notes
    return fast


def entry_with_block(block: bytes) -> bytes:
    return b'{"message":{"role":"tool","content":[' + block + b"]}}"


def done_with_usage(usage: bytes) -> bytes:
    return b'{"event":"done","model":"m","iterations":1,"stop_reason":"end","usage":' + usage + b',"ts":"t"}'


def run(*args: str):
    r = CliRunner().invoke(main, list(args))
    assert "Traceback" not in r.output, r.output
    return r


# --- item 0: the corrected shapes -------------------------------------------------------


CANONICAL_DONE = done_with_usage(
    b'{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,'
    b'"completion_tokens_details":{"reasoning_tokens":7},"prompt_cache_hit_tokens":4,"prompt_cache_miss_tokens":6}'
)
CANONICAL_RESULT = entry_with_block(b'{"type":"tool_result","tool_use_id":"c1","content":"ok","name":"shell"}')
CANONICAL_RESULT_BLOCKS = entry_with_block(
    b'{"type":"tool_result","tool_use_id":"c1","content":[{"type":"text","text":"a"},'
    b'{"type":"tool_result","tool_use_id":"c0","content":"inner","name":"grep"}],"name":"shell"}'
)


@pytest.mark.parametrize("data", [CANONICAL_DONE, CANONICAL_RESULT, CANONICAL_RESULT_BLOCKS])
def test_canonical_daemon_files_take_the_fast_path_with_no_note(data: bytes) -> None:
    assert decode_fast(data) is not None, "a file the daemon writes must not need the exact path"
    d = verdict(data)
    assert d.kind in (ENTRY, EVENT) and d.notes == ()


def test_canonical_values_decode_to_the_corrected_models() -> None:
    u = verdict(CANONICAL_DONE).value.usage
    assert u == m.Usage(10, 20, 30, m.CompletionTokensDetails(7), 4, 6)
    b = verdict(CANONICAL_RESULT_BLOCKS).value.message.content[0]
    assert b == m.ToolResultBlock("c1", [m.TextBlock("a"), m.ToolResultBlock("c0", "inner", "grep")], "shell")


def test_a_session_of_such_files_has_no_problem(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append_raw(slug, CANONICAL_RESULT)
    writer.append_raw(slug, CANONICAL_RESULT_BLOCKS)
    writer.append_raw(slug, CANONICAL_DONE)
    s = load_session(writer.sessions_dir / slug)
    assert [st.kind for st in s.steps] == [ENTRY, ENTRY, EVENT]
    assert s.problems == []


@pytest.mark.parametrize(
    "data, expected",
    [
        # content is a string or a list of blocks, nothing else
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":null}'), BAD),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":12}'), BAD),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":{"text":"x"}}'), BAD),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":[{"text":"untyped"}]}'), BAD),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":["a string in the list"]}'), BAD),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":[]}'), ENTRY),
        # name: an optional string (null and missing both fine)
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","name":null}'), ENTRY),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","name":3}'), BAD),
        # is_error is no field of the daemon's: ignored, whatever it holds
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","is_error":"false"}'), ENTRY),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","is_error":[1]}'), ENTRY),
        # Usage: no defaults, so the array form needs all six
        (done_with_usage(b"[1,1,2]"), BAD),
        (done_with_usage(b"[1,1,2,null]"), BAD),
        (done_with_usage(b"[1,1,2,null,null]"), BAD),
        (done_with_usage(b"[1,1,2,null,null,null]"), EVENT),
        (done_with_usage(b"[1,1,2,[3],4,5]"), EVENT),
        (done_with_usage(b"[1,1,2,[],4,5]"), BAD),  # details as an array needs its one
        # completion_tokens_details and reasoning_tokens: optional, u32
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":null}'), EVENT),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":{}}'), EVENT),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":{"reasoning_tokens":null}}'), EVENT),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":{"reasoning_tokens":4294967295}}'), EVENT),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":{"reasoning_tokens":4294967296}}'), BAD),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":7}'), BAD),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"completion_tokens_details":{"reasoning_tokens":1,"reasoning_tokens":2}}'), BAD),
    ],
)
def test_corrected_rules(data: bytes, expected: str) -> None:
    d = verdict(data)
    assert d.kind == expected
    if expected != BAD and b"is_error" not in data and b"[" not in data.split(b'"usage":')[-1][:1]:
        assert d.notes == (), "a field of the daemon's own is no leniency"


def test_unknown_keys_are_still_flagged_but_the_new_fields_are_not() -> None:
    d = verdict(entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","is_error":false}'))
    assert d.notes and "is_error" in d.notes[0]
    d = verdict(entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","name":null}'))
    assert d.notes == ()


def test_a_bad_block_inside_a_result_says_where() -> None:
    d = verdict(entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":[{"type":"text","text":1}]}'))
    assert d.kind == BAD and "untagged enum ToolResultContent" in d.error
    assert d.offset > 0


def test_the_demo_writes_what_the_daemon_writes(tmp_path: Path) -> None:
    root = build_demo(tmp_path / "demo")
    files = [p.read_bytes() for p in (root / "sessions").glob("*/step-*")]
    assert not any(b'"is_error"' in f for f in files)
    assert any(b'"completion_tokens_details":{"reasoning_tokens":' in f for f in files)
    assert any(b'"type":"done"' not in f and b'"usage"' in f and b"completion_tokens_details" not in f for f in files)
    named = [f for f in files if b'"type":"tool_result"' in f and b'"name":' in f]
    assert named and all(decode_fast(f) is not None for f in named)


def test_show_renders_result_names_nested_blocks_and_reasoning(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append_raw(slug, CANONICAL_RESULT_BLOCKS)  # no tool_use for c1 in the session: the name comes from the result
    writer.append_raw(slug, CANONICAL_DONE)
    r = run("show", str(writer.sessions_dir / slug))
    assert r.exit_code == 0, r.output
    assert "← shell result: a⏎inner" in r.output
    r = run("export", str(writer.sessions_dir / slug), "--format", "md")
    assert "**tool result** of `shell`" in r.output and "\na\ninner\n" in r.output
    from crabview.render.text import step_text

    s = load_session(writer.sessions_dir / slug)
    assert "reasoning 7 of the completion tokens" in step_text(s.steps[1])


# --- item 1: serde_json's float arithmetic ---------------------------------------------

# From the daemon's decoder, for {"compact":"","x":N}: L = legacy compact, U = unparsable.
DAEMON_TABLE = [
    ("1.7976931348623157e308", LEGACY),
    ("1.7976931348623158e308", BAD),
    ("179769313486231581e291", LEGACY),
    ("17976931348623157000e289", BAD),
    ("1797693134862315708145274237317043567981e269", BAD),
    ("17976931348623157e292", LEGACY),
    ("1.8e308", BAD),
    ("1e309", BAD),
    ("0e999999999", LEGACY),
    ("1e-400", LEGACY),
    ("123456789012345678901234567890", LEGACY),
    ("2.2250738585072014e-308", LEGACY),
]


@pytest.mark.parametrize("number, expected", DAEMON_TABLE)
def test_the_daemons_verdicts_near_the_largest_double(number: str, expected: str) -> None:
    d = verdict(b'{"compact":"","x":' + number.encode() + b"}")
    assert d.kind == expected
    if expected == BAD:
        assert "number out of range" in d.error


@pytest.mark.parametrize("number, expected", DAEMON_TABLE)
def test_the_same_numbers_anywhere_in_a_step(number: str, expected: str) -> None:
    n = number.encode()
    ok = expected != BAD
    # a free-form payload, an event's unknown key, a nested array, a negative number
    assert verdict(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":{"x":' + n + b"}}")).kind == (ENTRY if ok else BAD)
    assert verdict(entry_with_block(b'{"type":"image","source":[[' + n + b"]]}")).kind == (ENTRY if ok else BAD)
    assert verdict(b'{"event":"user_steered","content":"c","ts":"t","x":-' + n + b"}").kind == (EVENT if ok else BAD)
    assert verdict(b'{"archive_name":"a","archived_at":"t","x":[' + n + b"]}").kind == ("compact" if ok else BAD)


def test_meta_skips_its_unknown_keys_numbers_unconverted() -> None:
    # the same number that makes a step unparsable is ignored under meta's unknown key
    big = b"1.7976931348623158e308"
    assert verdict(b'{"compact":"","x":' + big + b"}").kind == BAD
    d = decode_meta(b'{"agent":"a","created_by":"u","created_at":"t","x":' + big + b"}")
    assert d.meta is not None and d.meta.agent == "a"


def test_an_out_of_range_number_moves_the_replay_boundary(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("before")])))
    writer.append_raw(slug, b'{"compact":"summary","x":179769313486231581e291}')  # a boundary to the daemon
    writer.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("after")])))
    writer.append_raw(slug, b'{"compact":"later","x":1.7976931348623158e308}')  # skipped by the daemon
    writer.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("last")])))
    s = load_session(writer.sessions_dir / slug)
    assert [st.kind for st in s.steps] == [ENTRY, LEGACY, ENTRY, BAD, ENTRY]
    assert s.boundary is not None and s.boundary.name == "step-000002"
    assert s.replay_indices == [2, 4]


@pytest.mark.parametrize(
    "text, value",
    [
        # exponents whose digits overflow i32: 0 when the significand is 0 or the exponent negative
        (b"0e2147483648", 0.0),
        (b"1e-2147483648", 0.0),
        (b"1e-99999999999999999999", 0.0),
        (b"-1e-99999999999999999999", -0.0),
        (b"0.000e99999999999999999999", 0.0),
        (b"1e+0000000000000000000001", 10.0),  # leading zeros never overflow
        # saturating exponents, repeated division by 1e308, subnormals
        (b"1e-2147483647", 0.0),
        (b"5e-324", 5e-324),
        (b"2.4703282292062328e-324", 0.0),  # correctly rounded this is 5e-324
        (b"4.9406564584124654e-324", 5e-324),
        (b"2.2250738585072011e-308", 2.2250738585072014e-308),  # correctly rounded: ...201e-308
        (b"1.7976931348623156e308", 1.7976931348623157e308),  # correctly rounded: ...155e308
        # mantissas past 20 digits: integer digits past u64 scale, fraction digits past it vanish
        (b"12345678901234567890123", 1.2345678901234568e22),
        (b"1.2345678901234567890123456789", 1.2345678901234567),
        (b"0.00000000000000000000000000000000000001", 1e-38),
        (b"18446744073709551616", 1.8446744073709552e19),
        (b"-18446744073709551616", -1.8446744073709552e19),
        (b"18446744073709551616.5", 1.8446744073709552e19),
        (b"9223372036854775808", 9223372036854775808),  # u64, not a float
        (b"-9223372036854775808", -9223372036854775808),  # i64::MIN
        (b"-9223372036854775809", -9.223372036854776e18),  # past i64: a double
        (b"-0", -0.0),
        (b"9.385958677423489e-293", 9.385958677423488e-293),  # one ulp off correct rounding
    ],
)
def test_serde_json_number_values(text: bytes, value: float) -> None:
    got = parse_number(text)
    assert type(got) is type(value) and got == value
    assert str(got) == str(value)  # the sign of zero too
    # and what a step shows: the value the daemon holds
    d = verdict(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":[' + text + b"]}"))
    shown = d.value.message.content[0].input[0]
    assert type(shown) is type(value) and str(shown) == str(value)


@pytest.mark.parametrize("text", [b"1e2147483648", b"-1e2147483648", b"1e2147483647", b"1e99999999999999999999", b"123e400", b"-1.8e308"])
def test_serde_json_numbers_out_of_range(text: bytes) -> None:
    with pytest.raises(OutOfRange):
        parse_number(text)
    assert verdict(b'{"compact":"","x":' + text + b"}").kind == BAD


def test_a_payload_float_shows_serde_jsons_value() -> None:
    # msgspec reads the correctly rounded double; the daemon reads the one below it
    d = verdict(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":{"x":9.385958677423489e-293}}'))
    assert d.value.message.content[0].input == {"x": 9.385958677423488e-293}


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**15 - 1), st.integers(0, 15), st.integers(-22, 22), st.booleans())
def test_short_mantissas_and_small_exponents_are_exact(digits: int, point: int, exp: int, neg: bool) -> None:
    # below 2**53 with an exact power of ten serde_json rounds once: it must equal float()
    exp = max(-22 + point, min(22, exp))  # the decimal exponent in effect is exp - point
    text = str(digits).zfill(point + 1)
    text = (text[: len(text) - point] + "." + text[len(text) - point :] if point else text) + f"e{exp}"
    text = ("-" if neg else "") + text
    assert parse_number(text.encode()) == float(text)


number_text = st.builds(
    lambda neg, i, f, e: f"{'-' if neg else ''}{i}{'.' + f if f else ''}{'e' + e if e else ''}",
    st.booleans(),
    st.sampled_from(["0", "1", "17976931348623157", "179769313486231581", "18446744073709551615", "18446744073709551616"])
    | st.from_regex(r"[1-9][0-9]{0,45}", fullmatch=True),
    st.none() | st.from_regex(r"[0-9]{1,30}", fullmatch=True),
    st.none() | st.from_regex(r"[+-]?[0-9]{1,12}", fullmatch=True) | st.sampled_from(["288", "289", "290", "291", "292", "308", "309", "-308", "-324", "-400", "2147483647", "2147483648"]),
)



@st.composite
def near_the_largest_double(draw) -> str:
    """Digits of 1.7976931348623157e308 and neighbours, written many ways."""
    digits = draw(st.sampled_from(["17976931348623157", "17976931348623158", "1797693134862315708", "17976931348623156"]))
    digits += draw(st.from_regex(r"[0-9]{0,25}", fullmatch=True))
    point = draw(st.integers(0, len(digits) - 1))  # digits before the decimal point
    intpart, frac = digits[:point + 1], digits[point + 1 :]
    exp = 308 - point + draw(st.integers(-1, 1))
    return f"{intpart}{'.' + frac if frac and draw(st.booleans()) else ''}e{exp}" if frac else f"{intpart}e{exp}"


@settings(max_examples=400, deadline=None)
@given(number_text | near_the_largest_double(), st.sampled_from(["compact", "input", "event", "source"]))
def test_both_paths_agree_on_any_number_anywhere(text: str, where: str) -> None:
    n = text.encode()
    data = {
        "compact": b'{"compact":"","x":' + n + b"}",
        "input": entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":{"a":' + n + b"}}"),
        "event": b'{"event":"user_steered","content":"c","ts":"t","x":' + n + b"}",
        "source": entry_with_block(b'{"type":"image","source":' + n + b"}"),
    }[where]
    try:
        parse_number(n)
        in_range = True
    except OutOfRange:
        in_range = False
    assert (verdict(data).kind != BAD) == in_range


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_fast_path_never_vouches_for_a_float_serde_reads_otherwise(x: float) -> None:
    data = encode(m.HistoryEntry(message=m.Message("assistant", [m.ToolUseBlock("i", "n", {"x": x})])))
    try:
        serde_value = parse_number(encode(x))
    except OutOfRange:
        serde_value = None
    d = verdict(data)
    if serde_value is None:
        assert d.kind == BAD and decode_fast(data) is None
    else:
        assert d.value.message.content[0].input["x"] == serde_value
        if serde_value != x:
            assert decode_fast(data) is None


# --- item 2: a directory under sessions/ is a session ------------------------------------


def test_an_empty_directory_under_sessions_is_a_session(writer: DaemonWriter) -> None:
    empty = writer.sessions_dir / "crab_user_5"
    empty.mkdir()
    r = run("show", "--json", str(empty))
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["slug"], d["load"], d["steps"], d["next_step"], d["meta_status"]) == ("crab_user_5", "none", [], 1, "missing")
    r = run("check", "--json", str(empty))
    assert r.exit_code == 1, r.output  # a problem (meta missing), not "not a crabtalk store" (2)
    d = json.loads(r.stdout)
    assert list(d["sessions"]) == ["crab_user_5"] and d["sessions"]["crab_user_5"]["load"] == "none"
    assert [p["code"] for p in d["sessions"]["crab_user_5"]["problems"]] == ["meta_missing"]


def test_a_directory_under_sessions_holding_anything_else_is_a_session(writer: DaemonWriter) -> None:
    odd = writer.sessions_dir / "crab_user_6"
    (odd / "notes").mkdir(parents=True)
    (odd / "README").write_text("hello")
    r = run("show", "--json", str(odd))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["next_step"] == 1


# --- item 3: the counter at u64's end ------------------------------------------------------


def test_the_counter_wraps_to_zero(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    writer.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("x")])))
    (writer.sessions_dir / slug / "step-18446744073709551615").write_bytes(b'{"compact":"s"}')
    r = run("show", "--json", str(writer.sessions_dir / slug))
    d = json.loads(r.stdout)
    assert d["next_step"] == 0
    wraps = [p for p in d["problems"] if p["code"] == "counter_wraps"]
    assert len(wraps) == 1 and wraps[0]["file"] == "step-18446744073709551615"
    assert "step-000000" in wraps[0]["reason"]
    r = run("show", str(writer.sessions_dir / slug))
    assert "next step number: 0 " in r.output and "[counter_wraps]" in r.output


def test_one_below_the_end_does_not_wrap(writer: DaemonWriter) -> None:
    slug = writer.create_session("Crab", "user")
    (writer.sessions_dir / slug / "step-+18446744073709551614").write_bytes(b'{"compact":"s"}')
    s = load_session(writer.sessions_dir / slug)
    assert s.next_step == 18446744073709551615
    assert not [p for p in s.problems if p.code == "counter_wraps"]


# --- item 4: paths are taken by their real location ----------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return build_demo(tmp_path / "demo")


def check_json(*args: str) -> dict:
    r = run("check", "--json", *args)
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.stdout)


def problem_codes(d: dict) -> list[tuple[str, str]]:
    return sorted((slug, p["code"]) for slug, s in d["sessions"].items() for p in s["problems"])


def test_check_dot_from_inside_sessions_matches_the_root(store: Path, monkeypatch) -> None:
    want = check_json(str(store))
    assert want["problem_count"] > 0
    monkeypatch.chdir(store / "sessions")
    got = check_json(".")
    assert got["problem_count"] == want["problem_count"]
    assert problem_codes(got) == problem_codes(want)
    assert not [c for c in problem_codes(got) if c == ("crab_user_1", "archive_missing")]
    assert got["memory"]["status"] == "ok" and got["root"] == str(store.resolve())


def test_dot_dot_and_relative_roots(store: Path, monkeypatch) -> None:
    want = problem_codes(check_json(str(store)))
    monkeypatch.chdir(store / "sessions" / "crab_user_1")
    assert problem_codes(check_json("..")) == want
    assert problem_codes(check_json("../..")) == want
    monkeypatch.chdir(store.parent)
    assert problem_codes(check_json(store.name)) == want
    assert problem_codes(check_json(f"{store.name}/sessions")) == want


def test_dot_inside_a_session_names_it(store: Path, monkeypatch) -> None:
    monkeypatch.chdir(store / "sessions" / "coder_delegate-42_1")
    d = check_json(".")
    assert list(d["sessions"]) == ["coder_delegate-42_1"]
    r = run("check", ".")
    assert "coder_delegate-42_1: 2 step number(s) missing" in r.output
    assert "\n: " not in r.output and not r.output.startswith(": ")
    d = json.loads(run("show", "--json", ".").stdout)
    assert d["slug"] == "coder_delegate-42_1"


def test_a_relative_slug_inside_sessions_finds_memory(store: Path, monkeypatch) -> None:
    monkeypatch.chdir(store / "sessions")
    d = json.loads(run("show", "--json", "crab_user_1").stdout)
    assert d["archive"] == "crab-user-1-2" and d["archive_found"] is True
    r = run("show", "crab_user_1")
    assert "(in memory.db)" in r.output and "MISSING" not in r.output
    monkeypatch.chdir(store)
    d = json.loads(run("show", "--json", "sessions/crab_user_1").stdout)
    assert d["archive_found"] is True


def test_symlinked_paths(store: Path, tmp_path: Path) -> None:
    want = problem_codes(check_json(str(store)))
    (tmp_path / "root-link").symlink_to(store)
    (tmp_path / "sessions-link").symlink_to(store / "sessions")
    (tmp_path / "session-link").symlink_to(store / "sessions" / "crab_user_1")
    assert problem_codes(check_json(str(tmp_path / "root-link"))) == want
    assert problem_codes(check_json(str(tmp_path / "sessions-link"))) == want
    d = json.loads(run("show", "--json", str(tmp_path / "session-link")).stdout)
    assert d["slug"] == "crab_user_1" and d["archive_found"] is True
    d = json.loads(run("show", "--json", str(tmp_path / "root-link" / "sessions" / "crab_user_1")).stdout)
    assert d["archive_found"] is True


def test_a_symlinked_session_inside_sessions_keeps_its_name(store: Path, tmp_path: Path, monkeypatch) -> None:
    # the daemon knows it by the link's name, and its listing skips it
    elsewhere = tmp_path / "elsewhere"
    os.rename(store / "sessions" / "crab_user_2", elsewhere)
    (store / "sessions" / "crab_user_2").symlink_to(elsewhere)
    monkeypatch.chdir(store / "sessions")
    d = json.loads(run("show", "--json", "crab_user_2").stdout)
    assert d["slug"] == "crab_user_2" and d["listed"] is False
    assert "session_unlisted" in [p["code"] for p in d["problems"]]
