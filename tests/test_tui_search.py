"""Content search: the bytes-first scan finds exactly what decoding every file would."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from crabview.tui.search import ContentCache, QueryError, match_text, parse_query, search_steps, strings_of

import pytest

ALPHABET = st.sampled_from(list('abcAB é"\\/\n\tÉz') + ["\u0001", "é", "ß", "\u212a"])
TEXT = st.text(ALPHABET, max_size=12)


def brute(q, names, d) -> list[int]:
    out = []
    for i, n in enumerate(names):
        raw = (Path(d) / n).read_bytes()
        strings = strings_of(raw)
        if strings is None:
            strings = [raw.decode("utf-8", "replace")]
        if q.pattern.search(n) or any(q.pattern.search(s) for s in strings):
            out.append(i)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contents=st.lists(st.tuples(TEXT, st.booleans()), min_size=1, max_size=8),
    query=TEXT.filter(lambda s: s.strip() != ""),
    regex=st.sampled_from([None, "", "^", "$", "\\b"]),
)
def test_bytes_first_equals_decode_all(tmp_path: Path, contents, query, regex) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    names = []
    for k, (text, ascii_escape) in enumerate(contents):
        doc = {"message": {"role": "user", "content": [{"type": "text", "text": text}]}}
        data = json.dumps(doc, ensure_ascii=ascii_escape).encode()  # \u escapes as some writers do
        name = f"step-{k + 1:06d}"
        (d / name).write_bytes(data)
        names.append(name)
    (d / "step-000099").write_bytes(b'{"broken ' + query.encode("utf-8", "replace"))  # unparsable: matched as text
    names.append("step-000099")
    import re

    if regex is None:
        text = query
    elif regex == "^":
        text = "re:^" + re.escape(query)
    else:
        text = "re:" + re.escape(query) + regex
    try:
        q = parse_query(text)
    except QueryError:
        return
    got = search_steps(q, names, ContentCache(str(d))).indices
    assert got == brute(q, names, d)
    if regex in (None, ""):
        assert len(names) - 1 in got  # the unparsable file holds the query


def test_full_content_not_a_summary_and_regex(tmp_path: Path) -> None:
    long = "x" * 5000 + " needle-at-the-end"
    (tmp_path / "step-000001").write_text(json.dumps({"message": {"role": "user", "content": [{"type": "text", "text": long}]}}))
    (tmp_path / "step-000002").write_text(json.dumps({"message": {"role": "user", "content": [{"type": "text", "text": "no"}]}}))
    names = ["step-000001", "step-000002"]
    c = ContentCache(str(tmp_path))
    assert search_steps(parse_query("NEEDLE-at"), names, c).indices == [0]
    assert search_steps(parse_query("re:need\\w+-at"), names, c).indices == [0]
    assert search_steps(parse_query("content"), names, c).indices == []  # keys are structure, not content
    assert "needle-at-the-end" in match_text(parse_query("needle"), names[0], (tmp_path / names[0]).read_bytes())
    with pytest.raises(QueryError):
        parse_query("re:(")


def test_cancelled_search_returns_nothing(tmp_path: Path) -> None:
    for k in range(3000):
        (tmp_path / f"step-{k:06d}").write_text('{"a":"b"}')
    names = sorted(os.listdir(tmp_path))
    r = search_steps(parse_query("b"), names, ContentCache(str(tmp_path)), cancelled=lambda: True)
    assert r.cancelled and r.indices == []
