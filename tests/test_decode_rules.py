"""FORMAT.md 5 and 5.1: the daemon's verdict on one step file's bytes.

Every case is decided from the contract (and the daemon's Rust module), not
from crabview's output. Every case goes through BOTH decoders: the fast
msgspec path (``decode_step``) and the rule-by-rule path
(``decode_step_exact``) must agree on the kind and, when the step decodes,
on the value; an unparsable verdict must carry a reason and a byte offset
inside the file.
"""

from __future__ import annotations

import pytest

from crabview.store import models as m
from crabview.store.decode import decode_step, decode_step_exact, encode, salvage

ENTRY, EVENT, COMPACT, LEGACY, BAD = "entry", "event", "compact", "legacy_compact", "unparsable"

# Canonical pieces (the daemon writes compact JSON, keys in declaration order).
MSG = b'{"role":"user","content":[{"type":"text","text":"hi"}]}'
ENTRY_B = b'{"message":' + MSG + b"}"
TOOL_RESULT_B = b'{"event":"tool_result","call_id":"c1","duration_ms":12,"ts":"t"}'
USAGE_B = b'{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}'
DONE_B = b'{"event":"done","model":"m","iterations":1,"stop_reason":"end","usage":' + USAGE_B + b',"ts":"t"}'
COMPACT_B = b'{"archive_name":"crab-user-1-1","archived_at":"t"}'
LEGACY_B = b'{"compact":"summary"}'


def verdict(data: bytes) -> object:
    """Decode with both paths, check they agree, return the fast verdict."""
    fast = decode_step(data)
    exact = decode_step_exact(data)
    assert fast.kind == exact.kind, (data, fast, exact)
    if fast.kind == BAD:
        for d in (fast, exact):
            assert d.value is None
            assert isinstance(d.error, str) and d.error, d
            assert isinstance(d.offset, int) and 0 <= d.offset <= len(data), (d.offset, len(data))
    else:
        assert fast.value == exact.value, (fast.value, exact.value)
        assert fast.error is None and exact.error is None
        assert m.kind_of(fast.value) == fast.kind
    return fast


def kind(data: bytes) -> str:
    return verdict(data).kind  # type: ignore[attr-defined]


def entry_with_block(block: bytes) -> bytes:
    return b'{"message":{"role":"assistant","content":[' + block + b"]}}"


def tool_result_with(duration: bytes) -> bytes:
    return b'{"event":"tool_result","call_id":"c1","duration_ms":' + duration + b',"ts":"t"}'


def done_with_usage(usage: bytes) -> bytes:
    return b'{"event":"done","model":"m","iterations":1,"stop_reason":"end","usage":' + usage + b',"ts":"t"}'


# --- the four variants, canonical form ---------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        (ENTRY_B, m.HistoryEntry(message=m.Message("user", [m.TextBlock("hi")]))),
        (b'{"agent":"guest","message":' + MSG + b"}", m.HistoryEntry(agent="guest", message=m.Message("user", [m.TextBlock("hi")]))),
        (TOOL_RESULT_B, m.ToolResultEvent("c1", 12, "t")),
        (DONE_B, m.DoneEvent("m", 1, "end", m.Usage(1, 2, 3), "t")),
        (b'{"event":"tool_start","calls":[{"id":"c1","name":"shell","arguments":"{}"}],"ts":"t"}',
         m.ToolStartEvent([m.ToolCall("c1", "shell", "{}")], "t")),
        (b'{"event":"user_steered","content":"stop","ts":"t"}', m.UserSteeredEvent("stop", "t")),
        (COMPACT_B, m.Compact("crab-user-1-1", "t")),
        (LEGACY_B, m.LegacyCompact("summary")),
        (b'{"compact":"s","title":"T","archived_at":"t"}', m.LegacyCompact("s", "T", "t")),
    ],
)
def test_canonical_variants_decode_to_their_value(data: bytes, expected: object) -> None:
    d = verdict(data)
    assert d.value == expected
    assert d.kind == m.kind_of(expected)


def test_canonical_step_round_trips_through_encode() -> None:
    for data in (ENTRY_B, TOOL_RESULT_B, DONE_B, COMPACT_B, LEGACY_B):
        assert encode(verdict(data).value) == data


# --- variant order: Compact, LegacyCompact, Event, Entry; first fit wins ------------


@pytest.mark.parametrize(
    "data, expected",
    [
        # fits Compact and LegacyCompact: Compact is tried first
        (b'{"archive_name":"a","archived_at":"t","compact":"s"}', COMPACT),
        # Compact lacks archived_at -> LegacyCompact (archive_name is just an unknown key)
        (b'{"archive_name":"a","compact":"s"}', LEGACY),
        # fits LegacyCompact and Event: LegacyCompact first
        (b'{"compact":"s","event":"tool_result","call_id":"c","duration_ms":1,"ts":"t"}', LEGACY),
        # fits Event and Entry: Event first
        (b'{"event":"user_steered","content":"x","ts":"t","message":' + MSG + b"}", EVENT),
        # fits Compact and Entry: Compact first
        (b'{"archive_name":"a","archived_at":"t","message":' + MSG + b"}", COMPACT),
        # a wrong type makes that variant fail, the next one is tried
        (b'{"archive_name":1,"archived_at":"t","message":' + MSG + b"}", ENTRY),
        (b'{"archive_name":"a","archived_at":"t","compact":5}', COMPACT),
        (b'{"compact":5,"message":' + MSG + b"}", ENTRY),
        # an unknown event tag only makes Event fail; Entry ignores the key
        (b'{"event":"nope","message":' + MSG + b"}", ENTRY),
        # Event fails on a missing key, Entry fits
        (b'{"event":"tool_result","call_id":"c","ts":"t","message":' + MSG + b"}", ENTRY),
    ],
)
def test_variant_order(data: bytes, expected: str) -> None:
    assert kind(data) == expected


# --- unknown keys are ignored everywhere ---------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"message":' + MSG + b',"extra":{"deep":[1,2,3]}}', ENTRY),
        (b'{"x":1,"archive_name":"a","archived_at":"t"}', COMPACT),
        (b'{"compact":"s","uptime_secs":7}', LEGACY),
        (b'{"event":"tool_result","call_id":"c1","duration_ms":12,"ts":"t","host":"h"}', EVENT),
        (b'{"message":{"role":"user","content":[{"type":"text","text":"hi","cache":true}],"name":"n"}}', ENTRY),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"reasoning_tokens":9}'), EVENT),
        (b'{"event":"tool_start","calls":[{"id":"c","name":"n","extra":0}],"ts":"t"}', EVENT),
        # an unknown key may even be duplicated
        (b'{"x":1,"x":2,"message":' + MSG + b"}", ENTRY),
    ],
)
def test_unknown_keys_are_ignored(data: bytes, expected: str) -> None:
    assert kind(data) == expected


def test_unknown_keys_do_not_change_the_value() -> None:
    plain = verdict(TOOL_RESULT_B).value
    noisy = verdict(b'{"zz":null,"event":"tool_result","call_id":"c1","duration_ms":12,"ts":"t","yy":[]}').value
    assert plain == noisy


# --- duplicate known keys fail the struct; free-form values: last wins ----------------


@pytest.mark.parametrize(
    "data, expected",
    [
        # top level: every variant fails
        (b'{"archive_name":"a","archive_name":"b","archived_at":"t"}', BAD),
        (b'{"compact":"a","compact":"b"}', BAD),
        (b'{"message":' + MSG + b',"message":' + MSG + b"}", BAD),
        (b'{"agent":"a","agent":"b","message":' + MSG + b"}", BAD),
        (b'{"event":"tool_result","call_id":"c1","call_id":"c2","duration_ms":12,"ts":"t"}', BAD),
        # the tag key twice (even with the same value)
        (b'{"event":"tool_result","event":"tool_result","call_id":"c1","duration_ms":12,"ts":"t"}', BAD),
        # duplicate makes Compact fail; LegacyCompact ignores archive_name (unknown to it)
        (b'{"archive_name":"a","archive_name":"b","archived_at":"t","compact":"s"}', LEGACY),
        # duplicated event tag makes Event fail; to Entry `event` is unknown (dupes fine)
        (b'{"event":"done","event":"done","message":' + MSG + b"}", ENTRY),
        # nested: Message, block, block tag, Usage, ToolCall
        (b'{"message":{"role":"user","role":"user","content":[]}}', BAD),
        (entry_with_block(b'{"type":"text","text":"a","text":"b"}'), BAD),
        (entry_with_block(b'{"type":"text","type":"text","text":"a"}'), BAD),
        (done_with_usage(b'{"prompt_tokens":1,"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}'), BAD),
        (b'{"event":"tool_start","calls":[{"id":"c","id":"c","name":"n"}],"ts":"t"}', BAD),
    ],
)
def test_duplicate_known_keys(data: bytes, expected: str) -> None:
    assert kind(data) == expected


def test_duplicate_in_free_form_input_last_wins() -> None:
    d = verdict(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":{"a":1,"b":{"c":1,"c":2},"a":3}}'))
    assert d.kind == ENTRY
    assert d.value.message.content[0].input == {"a": 3, "b": {"c": 2}}


def test_tool_result_content_is_not_free_form() -> None:
    # FORMAT.md 5 (changed 2026-12-01): a string or a list of blocks, so an
    # object fails whatever its keys
    d = verdict(entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":{"k":"first","k":"last"}}'))
    assert d.kind == BAD


def test_duplicate_in_free_form_image_source_last_wins() -> None:
    d = verdict(entry_with_block(b'{"type":"image","source":{"url":"a","url":"b"}}'))
    assert d.kind == ENTRY
    assert d.value.message.content[0].source == {"url": "b"}


# --- array forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'["tool_result","c1",12,"ts"]', m.ToolResultEvent("c1", 12, "ts")),
        (b'["user_steered","x","t"]', m.UserSteeredEvent("x", "t")),
        # Usage's fields have no defaults: its array form needs all six
        (b'["done","m",1,"end",[1,2,3,null,null,null],"t"]', m.DoneEvent("m", 1, "end", m.Usage(1, 2, 3), "t")),
        (b'["done","m",1,"end",[1,2,3,[7],4,5],"t"]', m.DoneEvent("m", 1, "end", m.Usage(1, 2, 3, m.CompletionTokensDetails(7), 4, 5), "t")),
        # ToolCall as an array, trailing `arguments` (defaulted) left out
        (b'["tool_start",[["c1","shell"]],"t"]', m.ToolStartEvent([m.ToolCall("c1", "shell")], "t")),
        (b'["tool_start",[["c1","shell","{}"]],"t"]', m.ToolStartEvent([m.ToolCall("c1", "shell", "{}")], "t")),
        # an Event object holding an array-form Usage
        (done_with_usage(b"[1,2,3,null,null,null]"), m.DoneEvent("m", 1, "end", m.Usage(1, 2, 3), "t")),
        # Entry ["agent", {message}], Message ["role", [blocks]], block ["type", ...]
        (b'["", {"role":"user","content":[]}]', m.HistoryEntry(message=m.Message("user", []))),
        (b'["guest", ["assistant", [["text","hi"]]]]', m.HistoryEntry(agent="guest", message=m.Message("assistant", [m.TextBlock("hi")]))),
        (b'{"message":["user",[{"type":"text","text":"hi"}]]}', m.HistoryEntry(message=m.Message("user", [m.TextBlock("hi")]))),
        (entry_with_block(b'["text","hi"]'), m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("hi")]))),
        # trailing optional / defaulted fields of a block left out
        (entry_with_block(b'["thinking"]'), m.HistoryEntry(message=m.Message("assistant", [m.ThinkingBlock()]))),
        (entry_with_block(b'["thinking","hmm"]'), m.HistoryEntry(message=m.Message("assistant", [m.ThinkingBlock("hmm")]))),
        (entry_with_block(b'["thinking","hmm","sig"]'), m.HistoryEntry(message=m.Message("assistant", [m.ThinkingBlock("hmm", "sig")]))),
        (entry_with_block(b'["tool_use","i","n",{"a":1}]'), m.HistoryEntry(message=m.Message("assistant", [m.ToolUseBlock("i", "n", {"a": 1})]))),
        (entry_with_block(b'["tool_result","i","out"]'), m.HistoryEntry(message=m.Message("assistant", [m.ToolResultBlock("i", "out")]))),
        (entry_with_block(b'["tool_result","i","out","shell"]'), m.HistoryEntry(message=m.Message("assistant", [m.ToolResultBlock("i", "out", "shell")]))),
        (entry_with_block(b'["image",{"u":1}]'), m.HistoryEntry(message=m.Message("assistant", [m.ImageBlock({"u": 1})]))),
    ],
)
def test_array_forms_decode(data: bytes, expected: object) -> None:
    d = verdict(data)
    assert d.value == expected


@pytest.mark.parametrize(
    "data",
    [
        # the compact variants never match an array
        b'["crab-user-1-1","t"]',
        b'["summary"]',
        b'["summary","title","t"]',
        # extra items are rejected at every level
        b'["tool_result","c1",12,"ts","extra"]',
        b'["user_steered","x","t",null]',
        b'["", {"role":"user","content":[]}, "extra"]',
        b'{"message":["user",[],"extra"]}',
        entry_with_block(b'["text","hi","extra"]'),
        entry_with_block(b'["tool_result","i","out",true,1]'),
        done_with_usage(b"[1,2,3,4,5,6]"),
        done_with_usage(b"[1,2,3,null,null,null,null]"),
        b'["tool_start",[["c1","shell","{}","x"]],"t"]',
        # too few required items
        b'["tool_result","c1",12]',
        b'[""]',
        b"[]",
        done_with_usage(b"[1,2]"),
        done_with_usage(b"[1,2,3]"),
        done_with_usage(b"[1,2,3,null,4]"),
        entry_with_block(b'["text"]'),
        entry_with_block(b'["tool_use","i","n"]'),  # free-form input must be present
        # the tag must come first in an Event array
        b'["c1","tool_result",12,"ts"]',
    ],
)
def test_array_forms_rejected(data: bytes) -> None:
    assert kind(data) == BAD


def test_compact_like_array_is_not_a_compact_but_may_be_an_entry() -> None:
    # ["a", {message}] has the shape of Entry (agent first), never of Compact
    d = verdict(b'["crab-user-1-1", {"role":"user","content":[]}]')
    assert d.kind == ENTRY and d.value.agent == "crab-user-1-1"


# --- null vs missing: defaults, Option, free-form ----------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        # defaults cover a missing key only
        (b'{"compact":"s"}', LEGACY),
        (b'{"compact":"s","title":null}', BAD),
        (b'{"compact":"s","archived_at":null}', BAD),
        (b'{"agent":null,"message":' + MSG + b"}", BAD),
        (entry_with_block(b'{"type":"thinking"}'), ENTRY),
        (entry_with_block(b'{"type":"thinking","thinking":null}'), BAD),
        (b'{"event":"tool_start","calls":[{"id":"c","name":"n","arguments":null}],"ts":"t"}', BAD),
        (b'{"event":"tool_start","calls":[{"id":"c","name":"n"}],"ts":"t"}', EVENT),
        # required keys: null is not a value for them
        (b'{"archive_name":null,"archived_at":"t"}', BAD),
        (b'{"message":null}', BAD),
        (b'{"event":"user_steered","content":null,"ts":"t"}', BAD),
        # Option takes both null and missing
        (entry_with_block(b'{"type":"thinking","thinking":"x","signature":null}'), ENTRY),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","is_error":null}'), ENTRY),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o"}'), ENTRY),
        (done_with_usage(b'{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_cache_hit_tokens":null,"prompt_cache_miss_tokens":null}'), EVENT),
        # free-form fields take null but must be present
        (entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":null}'), ENTRY),
        (entry_with_block(b'{"type":"tool_use","id":"i","name":"n"}'), BAD),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":null}'), BAD),  # a string or blocks
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i"}'), BAD),
        (entry_with_block(b'{"type":"image","source":null}'), ENTRY),
        (entry_with_block(b'{"type":"image"}'), BAD),
    ],
)
def test_null_versus_missing(data: bytes, expected: str) -> None:
    assert kind(data) == expected


def test_option_null_and_missing_give_none_and_default_gives_empty() -> None:
    v = verdict(entry_with_block(b'{"type":"thinking","signature":null}')).value
    assert v.message.content[0] == m.ThinkingBlock("", None)
    v = verdict(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":null}')).value
    assert v.message.content[0].input is None
    v = verdict(b'{"compact":"s"}').value
    assert (v.title, v.archived_at) == ("", "")


# --- strict typing of the Message model (FORMAT.md 5, Entry) -------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"message":{"role":"user","content":"plain string"}}', BAD),
        (entry_with_block(b'{"type":"video","url":"x"}'), BAD),
        (b'{"message":{"role":"user"}}', BAD),
        (b'{"message":{"content":[]}}', BAD),
        (b'{"message":{"role":7,"content":[]}}', BAD),
        (entry_with_block(b'{"text":"no type"}'), BAD),
        # a tool result's content is a string or a list of blocks; is_error is an unknown key
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":[{"type":"text","text":"x"}]}'), ENTRY),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","is_error":"yes"}'), ENTRY),
        (entry_with_block(b'{"type":"tool_result","tool_use_id":"i","content":"o","is_error":1}'), ENTRY),
        # roles are free strings
        (b'{"message":{"role":"narrator","content":[]}}', ENTRY),
    ],
)
def test_message_model(data: bytes, expected: str) -> None:
    assert kind(data) == expected


# --- integers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num, ok",
    [
        (b"0", True),
        (b"12", True),
        (b"18446744073709551615", True),  # u64::MAX
        (b"18446744073709551616", False),
        (b"12.0", False),
        (b"1e3", False),
        (b"1E3", False),
        (b"-0", False),
        (b"-1", False),
        (b'"12"', False),
        (b"true", False),
        (b"null", False),
    ],
)
def test_u64_field(num: bytes, ok: bool) -> None:
    d = verdict(tool_result_with(num))
    assert d.kind == (EVENT if ok else BAD)
    if ok:
        assert d.value.duration_ms == int(num)


@pytest.mark.parametrize(
    "num, ok",
    [
        (b"4294967295", True),  # u32::MAX
        (b"4294967296", False),
        (b"18446744073709551615", False),
        (b"3.0", False),
        (b"1e0", False),
        (b"-0", False),
        (b"-1", False),
    ],
)
@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens", "total_tokens"])
def test_u32_token_counts(num: bytes, ok: bool, field: str) -> None:
    vals = {"prompt_tokens": b"1", "completion_tokens": b"2", "total_tokens": b"3"}
    vals[field] = num
    usage = b"{" + b",".join(b'"' + k.encode() + b'":' + v for k, v in vals.items()) + b"}"
    d = verdict(done_with_usage(usage))
    assert d.kind == (EVENT if ok else BAD)
    if ok:
        assert getattr(d.value.usage, field) == 4294967295


@pytest.mark.parametrize("num, ok", [(b"4294967295", True), (b"4294967296", False), (b"-1", False), (b"1.5", False)])
@pytest.mark.parametrize("field", ["prompt_cache_hit_tokens", "prompt_cache_miss_tokens"])
def test_optional_u32_cache_counts(num: bytes, ok: bool, field: str) -> None:
    usage = b'{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"' + field.encode() + b'":' + num + b"}"
    assert kind(done_with_usage(usage)) == (EVENT if ok else BAD)


@pytest.mark.parametrize("num, ok", [(b"18446744073709551615", True), (b"18446744073709551616", False), (b"2.0", False), (b"-1", False)])
def test_iterations_is_u64(num: bytes, ok: bool) -> None:
    data = b'{"event":"done","model":"m","iterations":' + num + b',"stop_reason":"end","usage":' + USAGE_B + b',"ts":"t"}'
    assert kind(data) == (EVENT if ok else BAD)


@pytest.mark.parametrize(
    "data",
    [
        b'{"archive_name":5,"archived_at":"t"}',  # number for a string
        b'{"event":"tool_result","call_id":12,"duration_ms":12,"ts":"t"}',
        b'{"event":"user_steered","content":["x"],"ts":"t"}',
        b'{"message":{"role":"user","content":[{"type":"text","text":1}]}}',
    ],
)
def test_strings_and_numbers_never_stand_in_for_each_other(data: bytes) -> None:
    assert kind(data) == BAD


def test_numbers_in_free_form_fields_are_any_json() -> None:
    # free-form values take floats, negatives, big integers
    d = verdict(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":[12.0,1e3,-0,-1,18446744073709551616]}'))
    assert d.kind == ENTRY
    inp = d.value.message.content[0].input
    assert inp[:4] == [12.0, 1000.0, 0, -1]
    assert inp[4] == pytest.approx(18446744073709551616)


def test_number_overflowing_f64_is_unparsable_even_in_free_form() -> None:
    # serde_json cannot represent 1e400 (it parses every number while buffering)
    assert kind(entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":1e400}')) == BAD
    assert kind(b'{"x":1e400,"message":' + MSG + b"}") == BAD


# --- bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("ws", [b" ", b"\t", b"\r", b"\n", b"\r\n", b" \t\r\n "])
def test_json_whitespace_around_the_value_is_fine(ws: bytes) -> None:
    assert kind(ws + ENTRY_B + ws) == ENTRY
    assert kind(ws + COMPACT_B) == COMPACT
    assert kind(TOOL_RESULT_B + ws) == EVENT


def test_whitespace_inside_is_fine() -> None:
    pretty = b'{\n  "message" : {\r\n\t"role": "user",\n "content" : [ ]\n }\n}'
    assert kind(pretty) == ENTRY


@pytest.mark.parametrize(
    "data, bad_at",
    [
        (b"\xef\xbb\xbf" + ENTRY_B, 0),  # UTF-8 byte-order mark
        (b"\x00" + ENTRY_B, 0),
        (ENTRY_B + b"\x00", len(ENTRY_B)),
        (b"\x0c" + ENTRY_B, 0),  # form feed is not JSON whitespace
        (ENTRY_B + b"\x0c", len(ENTRY_B)),
        (b"\xc2\xa0" + ENTRY_B, 0),  # NBSP
        (ENTRY_B + b"\xc2\xa0", len(ENTRY_B)),
        (b"\x0b" + ENTRY_B, 0),  # vertical tab
        (ENTRY_B + ENTRY_B, len(ENTRY_B)),  # a second value
        (ENTRY_B + b" " + ENTRY_B, len(ENTRY_B) + 1),
        (ENTRY_B + b"\n1", len(ENTRY_B) + 1),
        (COMPACT_B + b",", len(COMPACT_B)),
    ],
)
def test_stray_bytes_around_the_value(data: bytes, bad_at: int) -> None:
    d = verdict(data)
    assert d.kind == BAD
    assert d.offset == bad_at  # the error points at the first offending byte


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_text_is_unparsable(codec: str) -> None:
    assert kind(ENTRY_B.decode().encode(codec)) == BAD


@pytest.mark.parametrize(
    "data",
    [
        entry_with_block(b'{"type":"text","text":"caf\xe9"}'),  # latin-1 byte
        entry_with_block(b'{"type":"text","text":"\xc3"}'),  # truncated sequence
        entry_with_block(b'{"type":"text","text":"\xed\xa0\x80"}'),  # encoded surrogate
        entry_with_block(b'{"type":"text","text":"\xc0\xaf"}'),  # overlong
        b'{"ignored":"\xff","message":' + MSG + b"}",  # inside an ignored key's string
        b'{"ign\xfeored":1,"message":' + MSG + b"}",  # in an ignored key's name
        b'{"x":["ok","\x80"],"message":' + MSG + b"}",  # deep inside an ignored value
        entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":"\xff"}'),  # free-form
        b'{"compact":"s","title":"\xfe"}',
    ],
)
def test_invalid_utf8_anywhere_is_unparsable(data: bytes) -> None:
    assert kind(data) == BAD


def test_valid_multibyte_utf8_is_fine() -> None:
    d = verdict(entry_with_block('{"type":"text","text":"café 🦀 中文"}'.encode()))
    assert d.value.message.content[0].text == "café 🦀 中文"


@pytest.mark.parametrize("ch", [b"\x00", b"\x01", b"\x09", b"\x0a", b"\x0d", b"\x1b", b"\x1f"])
def test_raw_control_character_in_a_string_is_unparsable(ch: bytes) -> None:
    data = entry_with_block(b'{"type":"text","text":"a' + ch + b'b"}')
    d = verdict(data)
    assert d.kind == BAD
    assert d.offset == data.index(b"a" + ch) + 1
    # ... also inside an ignored key's value
    assert kind(b'{"x":"' + ch + b'","message":' + MSG + b"}") == BAD


def test_escaped_control_characters_are_fine() -> None:
    d = verdict(entry_with_block(b'{"type":"text","text":"a\\u0000\\t\\n\\u001bb"}'))
    assert d.value.message.content[0].text == "a\x00\t\n\x1bb"
    # DEL (0x7f) is not a control character for JSON
    assert kind(entry_with_block(b'{"type":"text","text":"a\x7fb"}')) == ENTRY


@pytest.mark.parametrize(
    "esc",
    [b"\\ud800", b"\\udbff", b"\\udc00", b"\\udfff", b"\\ud800x", b"\\ud800\\n", b"\\ud800\\u0041", b"\\udc00\\ud800"],
)
def test_lone_surrogate_escape_is_unparsable(esc: bytes) -> None:
    assert kind(entry_with_block(b'{"type":"text","text":"' + esc + b'"}')) == BAD
    assert kind(b'{"ignored":"' + esc + b'","message":' + MSG + b"}") == BAD


def test_surrogate_pair_escape_is_fine() -> None:
    d = verdict(entry_with_block(b'{"type":"text","text":"\\ud83e\\udd80"}'))
    assert d.value.message.content[0].text == "\U0001f980"


@pytest.mark.parametrize("bad", [b"\\x41", b"\\u12", b"\\U0041", b"\\'"])
def test_invalid_escapes_are_unparsable(bad: bytes) -> None:
    assert kind(entry_with_block(b'{"type":"text","text":"' + bad + b'"}')) == BAD


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"\\u0063ompact":"s"}', LEGACY),  # "\u0063ompact" is "compact"
        (b'{"archive\\u005fname":"a","archived_at":"t"}', COMPACT),
        (b'{"\\u0065vent":"user_steered","content":"x","ts":"t"}', EVENT),
        (b'{"event":"user\\u005fsteered","content":"x","ts":"t"}', EVENT),  # escapes in the tag value
        (b'{"\\u006dessage":' + MSG + b"}", ENTRY),
        (entry_with_block(b'{"\\u0074ype":"text","text":"hi"}'), ENTRY),
        # an escaped duplicate is still a duplicate
        (b'{"compact":"a","\\u0063ompact":"b"}', BAD),
        (b'{"message":' + MSG + b',"\\u006dessage":' + MSG + b"}", BAD),
    ],
)
def test_escapes_in_keys_count(data: bytes, expected: str) -> None:
    assert kind(data) == expected


# --- not a StepLine at all -----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b" ", b"\n", b"null", b"true", b"0", b"-1", b'"a string"', b"{}", b"[]", b"[1,2]", b'{"a":1}',
     b"{", b"[", b'{"message"', b'{"message":', b"nul", b"{'message':1}", b'{"a":1,}', b"[1,]", b"01", b"1.",
     b".5", b"+1", b"NaN", b"Infinity"],
)
def test_anything_else_is_unparsable(data: bytes) -> None:
    assert kind(data) == BAD


def test_empty_file_error_points_at_the_end() -> None:
    d = verdict(b"")
    assert d.offset == 0


def test_truncated_step_error_points_at_the_end() -> None:
    data = ENTRY_B[:-5]
    d = verdict(data)
    assert d.kind == BAD and d.offset == len(data)


def test_unparsable_reason_names_the_failing_field() -> None:
    d = verdict(tool_result_with(b"12.5"))
    assert "duration_ms" in d.error
    # the offset points into the file where the bad value is
    assert d.offset == tool_result_with(b"12.5").index(b"12.5")


# --- nesting depth -------------------------------------------------------------------


def _nested_input(total_depth: int) -> bytes:
    # {"message":{..."content":[{..."input": <arrays>}]}}: 4 levels before input
    k = total_depth - 4
    return entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":' + b"[" * k + b"]" * k + b"}")


def test_nesting_127_is_fine_128_is_not() -> None:
    assert kind(_nested_input(127)) == ENTRY
    assert kind(_nested_input(128)) == BAD


def test_nesting_limit_applies_inside_ignored_keys() -> None:
    def ignored(depth: int) -> bytes:
        k = depth - 1  # the top-level object is level 1
        return b'{"x":' + b"[" * k + b"]" * k + b',"message":{"role":"u","content":[]}}'

    assert kind(ignored(127)) == ENTRY
    assert kind(ignored(128)) == BAD


def test_nesting_mixes_objects_and_arrays() -> None:
    def mixed(depth: int) -> bytes:
        k = depth - 4
        inner = b"".join(b'{"a":' if i % 2 == 0 else b"[" for i in range(k))
        close = b"".join(b"}" if i % 2 == 0 else b"]" for i in reversed(range(k)))
        return entry_with_block(b'{"type":"tool_use","id":"i","name":"n","input":' + inner + b"1" + close + b"}")

    assert kind(mixed(127)) == ENTRY
    assert kind(mixed(128)) == BAD


def test_very_deep_nesting_does_not_crash() -> None:
    assert kind(b"[" * 100_000) == BAD
    assert kind(b'{"a":' * 50_000) == BAD


# --- exact tags ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        DONE_B.replace(b'"done"', b'"Done"'),
        DONE_B.replace(b'"done"', b'"DONE"'),
        b'{"event":"toolStart","calls":[],"ts":"t"}',
        b'{"event":"ToolStart","calls":[],"ts":"t"}',
        b'{"event":"tool-result","call_id":"c1","duration_ms":12,"ts":"t"}',
        b'{"event":" done","model":"m","iterations":1,"stop_reason":"e","usage":[1,2,3],"ts":"t"}',
        b'["Done","m",1,"end",[1,2,3],"t"]',
        entry_with_block(b'{"type":"Text","text":"hi"}'),
        entry_with_block(b'{"type":"toolUse","id":"i","name":"n","input":1}'),
    ],
)
def test_tags_are_exact(data: bytes) -> None:
    assert kind(data) == BAD


def test_tool_start_with_empty_call_list_is_an_event() -> None:
    assert verdict(b'{"event":"tool_start","calls":[],"ts":"t"}').value == m.ToolStartEvent([], "t")


# --- the fast path and the exact path build the same objects --------------------------


def test_daemon_written_steps_take_the_same_verdict_on_both_paths(demo_store) -> None:
    steps = sorted((demo_store / "sessions").glob("*/step-*"))
    assert len(steps) > 50
    kinds = set()
    for p in steps:
        if p.is_file():
            kinds.add(kind(p.read_bytes()))
    assert {ENTRY, EVENT, COMPACT, LEGACY, BAD} <= kinds


def test_salvage_of_a_torn_write_keeps_what_parsed() -> None:
    data = b'{"message":{"role":"user","content":[{"type":"text","text":"hello wor'
    assert kind(data) == BAD
    s = salvage(data)
    assert s.json_complete is False
    assert "hello wor" in s.text
