"""Attack variants beyond issue 9's examples, from the outside: every CLI
command's bytes on a pipe over a store holding escape families other than
CSI/OSC, invisible characters beyond the bidi set, and names with newlines.

Judged against the Unicode database (``support.attack.unsafe_chars``), not
against the product's own list of unsafe characters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from crabview.render.jsonenc import dumps, inert_json, pretty
from crabview.render.safe import one_line, visible
from support.attack import build_attack_store, unsafe_chars

# Every character that must never reach an output raw, by the Unicode database.
_EVERY_FORMAT = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and unsafe_chars(chr(c))]


def test_every_format_character_is_made_visible() -> None:
    """Unicode Cf (tag characters, soft hyphen, invisible operators,
    interlinear annotations...), Zl/Zp, C0/C1/DEL and plane 14: none stays raw."""
    text = "".join(_EVERY_FORMAT)
    assert unsafe_chars(visible(text)) == []
    assert unsafe_chars(one_line(text, 10**7)) == []
    assert unsafe_chars(inert_json(json.dumps(text, ensure_ascii=False))) == []


_hostile_char = st.sampled_from(_EVERY_FORMAT) | st.characters(codec="utf-8") | st.sampled_from("\ud800\udfff\U000e0041")


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.text(_hostile_char, max_size=12) | st.integers() | st.none(),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(_hostile_char, max_size=6), kids, max_size=4),
                    max_leaves=12))
def test_inert_json_is_valid_same_value_and_has_nothing_raw(value) -> None:
    """--json, jsonl and the mount's JSON: valid JSON, the same value back
    (astral characters as a surrogate pair), no unsafe character raw."""
    for text in (dumps(value), dumps(value, 2), pretty(value)):
        assert unsafe_chars(text) == [], text
        assert json.loads(text) == value


def _run_all(cmds: list[list[str]], cwd: Path) -> list[tuple[list[str], subprocess.CompletedProcess]]:
    procs = [(c, subprocess.Popen([sys.executable, "-m", "crabview", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd))
             for c in cmds]
    done = []
    for c, p in procs:
        o, e = p.communicate(timeout=120)
        done.append((c, subprocess.CompletedProcess(c, p.returncode, o, e)))
    return done


# Lines an attacker may try to print as if they were crabview's own.
_FORGED_STARTS = ("error   forged_problem", "forged_1")


@pytest.fixture(scope="module")
def attack_store(tmp_path_factory):
    return build_attack_store(tmp_path_factory.mktemp("attack"))


def test_cli_outputs_over_the_attack_store(attack_store, tmp_path: Path) -> None:
    root = str(attack_store.root)
    fields = str(attack_store.sessions / attack_store.slugs["fields"])
    named = str(attack_store.sessions / attack_store.slugs["named"])
    tagged = str(attack_store.sessions / attack_store.slugs["tagged"])
    line_oriented = [
        ["ls", root], ["ls", root, "--quick"], ["check", root], ["tail", root, "-n", "100"], ["archives", root],
        ["show", fields], ["show", named], ["show", tagged], ["check", named], ["tail", named],
        ["latest", "crab", "u\x1b]52;c;eA==\x07\nforged", "--root", root],
    ]
    as_json = [["ls", root, "--json"], ["ls", root, "--quick", "--json"], ["check", root, "--json"], ["archives", root, "--json"],
               ["show", fields, "--json"], ["show", named, "--json"], ["show", fields, "--replay", "--json"]]
    as_jsonl = [["tail", root, "-n", "100", "--json"], ["export", fields, "--format", "jsonl"], ["export", fields, "--format", "jsonl", "--all"]]
    content = [["show", fields, "--replay"], ["show", named, "--replay"], ["export", fields], ["export", fields, "--format", "html"],
               ["export", named], ["archive", "note\x9b2J\x9d0;t\x9c\x90q\x9c", "--root", root]]
    results = _run_all(line_oriented + as_json + as_jsonl + content, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory
    for c, r in results:
        text = (r.stdout + r.stderr).decode("utf-8", "replace")
        assert r.returncode in (0, 1), (c, r.stderr[-500:])
        assert "Traceback" not in text, c
        assert unsafe_chars(text) == [], (c, unsafe_chars(text))
        if c in as_json:
            json.loads(r.stdout)
        if c in as_jsonl:
            assert all(json.loads(x) is not None for x in r.stdout.splitlines())
        if c in line_oriented + as_json + as_jsonl:
            forged = [ln for ln in text.splitlines() if ln.startswith(_FORGED_STARTS)]
            assert forged == [], (c, forged)
        elif c[0] == "show":
            # content keeps its newlines, names never do: the header and the [archive NAME] line
            forged = [ln for ln in text.splitlines() if ln.startswith("forged_1") or (ln.startswith("error   forged") and ln.endswith("]"))]
            assert forged == [], (c, forged)
