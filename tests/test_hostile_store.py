"""Every command, export and the mount over a hostile store (tests/support/hostile.py).

Asserted everywhere: no traceback, no raw control/bidi/invisible character
in any output, exit codes as documented, nothing created or changed (the
store, the outside directory, the working directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.hostile import (
    ARCHIVE_NAME,
    CLICK_SCREENSHOT,
    EVIL_STEP_NAME,
    build_hostile_store,
    drop_dac_powers,
    raw_controls,
    snapshot,
    valid_memory_with_huge_count,
)

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, timeout: float = 60, drop: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "crabview", *args], capture_output=True, timeout=timeout, cwd=cwd, env=env,
        preexec_fn=drop_dac_powers if drop else None,
    )


def clean(r: subprocess.CompletedProcess, args: tuple) -> tuple[str, str]:
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "Traceback" not in out, (args, err[-2000:])
    assert raw_controls(out) == [], (args, raw_controls(out), out[:500])
    assert raw_controls(err) == [], (args, raw_controls(err), err[:500])
    return out, err


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("hostile")
    return build_hostile_store(base)


def commands(h) -> list[tuple[tuple[str, ...], set[int]]]:
    root = str(h.root)
    out: list[tuple[tuple[str, ...], set[int]]] = [
        (("ls", root), {0}), (("ls", root, "--json"), {0}), (("ls", root, "--quick"), {0}), (("ls", root, "--quick", "--json"), {0}),
        (("check", root), {1}), (("check", root, "--json"), {1}),
        (("archives", root), {1}), (("archives", root, "--json"), {1}),
        (("tail", root, "-n", "50"), {0}), (("tail", root, "-n", "50", "--json"), {0}),
        (("latest", "crab", "user", "--root", root), {0}),
    ]
    for slug in h.slugs.values():
        for extra in ((), ("--json",), ("--replay",), ("--replay", "--json")):
            out.append((("show", slug, "--root", root, *extra), {0}))
        out.append((("tail", slug, "--root", root, "-n", "100"), {0}))
        for fmt in ("md", "html"):
            for mode in ("--all", "--replay"):
                out.append((("export", slug, "--root", root, "--format", fmt, mode), {0}))
        out.append((("export", slug, "--root", root, "--format", "jsonl", "--all"), {0}))
        out.append((("export", slug, "--root", root, "--format", "jsonl"), {0, 1}))
    return out


def test_every_command_over_the_hostile_store(hostile, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = snapshot(hostile.root, hostile.outside, cwd)
    for args, codes in commands(hostile):
        t = time.monotonic()
        r = run_cli(*args, cwd=cwd)
        out, err = clean(r, args)
        assert r.returncode in codes, (args, r.returncode, err[-500:])
        if "--json" in args:  # valid JSON, whatever the store says
            _ = [json.loads(x) for x in out.splitlines()] if args[0] == "tail" else json.loads(out)
        assert time.monotonic() - t < 30, args
    assert snapshot(hostile.root, hostile.outside, cwd) == before


def test_show_and_tail_print_no_escape_from_names(hostile, tmp_path: Path) -> None:
    """The issue's examples: an archive_name with OSC+CSI in the show header; a step named step-ESC[2Jclear in rows, --replay and tail."""
    slug = hostile.slugs["evil"]
    for args in (("show", slug, "--root", str(hostile.root)), ("show", slug, "--root", str(hostile.root), "--replay"),
                 ("tail", slug, "--root", str(hostile.root), "-n", "100")):
        out, _ = clean(run_cli(*args, cwd=tmp_path), args)
        assert "\x1b" not in out and "\x07" not in out
        assert "␛]0;pwned␇" in out  # shown, visibly
    out, _ = clean(run_cli("show", slug, "--root", str(hostile.root), cwd=tmp_path), ())
    assert "step-␛[2Jclear" in out


def test_json_output_escapes_bidi_c1_and_del_as_unicode_escapes(hostile, tmp_path: Path) -> None:
    slug = hostile.slugs["evil"]
    for args in (("ls", str(hostile.root), "--json"), ("show", slug, "--root", str(hostile.root), "--json"),
                 ("check", str(hostile.root), "--json"), ("tail", slug, "--root", str(hostile.root), "--json", "-n", "100"),
                 ("archives", str(hostile.root), "--json")):
        r = run_cli(*args, cwd=tmp_path)
        text = r.stdout.decode()
        for ch in ("\u202e", "\x85", "\x9b", "\x7f", "\u200b", "\u2066"):
            assert ch not in text, (args, repr(ch))
        docs = [json.loads(line) for line in text.splitlines()] if args[0] == "tail" else [json.loads(text)]
        assert docs
    shown = json.loads(run_cli("show", slug, "--root", str(hostile.root), "--json", cwd=tmp_path).stdout)
    assert shown["meta"]["created_at"].endswith("\u202eevil\u202c")  # same values once decoded
    compact = [s for s in shown["steps"] if s["kind"] == "compact"][0]
    assert compact["value"]["archive_name"] == ARCHIVE_NAME


def test_ls_quick_does_not_read_memory_db(hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import crabview.store.store as store_mod
    from crabview.cli import main

    def boom(*_a, **_k):
        raise AssertionError("ls --quick read memory.db")

    monkeypatch.setattr(store_mod, "load_memory", boom)
    r = CliRunner().invoke(main, ["ls", str(hostile.root), "--quick", "--json"], catch_exceptions=False)
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == len(hostile.slugs)


def test_sparse_memory_db_costs_one_small_read(hostile, tmp_path: Path) -> None:
    from crabview.store.memory import load_memory

    t = time.monotonic()
    mem = load_memory(hostile.root / "memory.db")
    assert mem.status == "unreadable" and "bad magic" in (mem.error or "")
    assert time.monotonic() - t < 1.0
    p = tmp_path / "memory.db"
    valid_memory_with_huge_count(p)
    mem = load_memory(p)
    assert mem.status == "unreadable" and "entry_count 4,294,967,295 needs at least" in (mem.error or "")


def test_export_refuses_a_hard_link_to_a_step_and_paths_inside(hostile, tmp_path: Path) -> None:
    slug = hostile.slugs["linked"]
    before = hostile.linked_step.read_bytes()
    for target in (hostile.hard_link, hostile.linked_step, hostile.sessions / slug / "new.md", hostile.root / "x.md"):
        r = run_cli("export", slug, "--root", str(hostile.root), "-o", str(target), cwd=tmp_path)
        _, err = clean(r, ("export", str(target)))
        assert r.returncode == 2 and err.startswith("crabview: ") and "refusing to write" in err, (target, err)
    assert hostile.linked_step.read_bytes() == before
    assert not (hostile.sessions / slug / "new.md").exists() and not (hostile.root / "x.md").exists()
    ok = tmp_path / "out.md"
    r = run_cli("export", slug, "--root", str(hostile.root), "-o", str(ok), cwd=tmp_path)
    assert r.returncode == 0 and ok.read_bytes().startswith(b"# ")


def test_jsonl_export_of_a_failing_load_says_why(hostile, tmp_path: Path) -> None:
    slug = hostile.slugs["linked"]  # its second step is a link to a file that is no step: fine; make one that fails
    r = run_cli("export", hostile.slugs["big"], "--root", str(hostile.root), "--format", "jsonl", cwd=tmp_path)
    _, err = clean(r, ())
    assert r.returncode == 1 and r.stdout == b"" and "load of this session fails" in err
    assert slug


def test_deep_and_huge_steps_render_everywhere_fast(hostile) -> None:
    from crabview.render import files as rf
    from crabview.render.text import step_text, summary
    from crabview.store.store import Store

    s = Store.open(hostile.root).load_session(hostile.slugs["deep"])
    for st in s.steps:
        raw = (hostile.sessions / s.slug / st.name).read_bytes()
        t = time.monotonic()
        data = rf.unparsable_bytes(st, raw) if st.kind == "unparsable" else rf.step_json_bytes(st, s, 0)
        step_text(st), summary(st)
        assert time.monotonic() - t < 2.0, st.name
        assert len(data) < 2_000_000
        if len(raw) > (1 << 20):
            assert b"more bytes not salvaged" in data
        if raw.startswith(b"[[[[") and st.kind == "unparsable":
            assert b"nesting deeper than 64 levels" in data


def test_unreadable_directories_exit_2_with_one_line(tmp_path: Path) -> None:
    if os.geteuid() != 0 and False:
        pytest.fail("unreachable")
    for which in ("root", "sessions", "session"):
        base = tmp_path / which
        h = build_hostile_store(base, huge=False)
        for p in (base, h.root, h.sessions, *h.sessions.iterdir()):
            if not p.is_symlink():
                p.chmod(0o755)
        target = {"root": h.root, "sessions": h.sessions, "session": h.sessions / h.slugs["evil"]}[which]
        target.chmod(0)
        slug = h.slugs["evil"]
        try:
            cmds = [("ls", str(h.root)), ("ls", str(h.root), "--quick"), ("check", str(h.root)), ("tail", str(h.root)),
                    ("latest", "crab", "user", "--root", str(h.root)), ("archives", str(h.root)),
                    ("show", slug, "--root", str(h.root)), ("export", slug, "--root", str(h.root)),
                    ("tail", slug, "--root", str(h.root)), ("mount", str(h.root), str(tmp_path / "mnt-never"))]
            if which == "session":  # the others still work; the unreadable one says so
                cmds = [c for c in cmds if slug in c] + [("ls", str(h.root)), ("check", str(h.root))]
            for args in cmds:
                r = run_cli(*args, cwd=tmp_path, drop=True)
                out, err = clean(r, args)
                if which == "sessions" and args[0] == "archives":  # memory.db is all it reads
                    assert r.returncode == 0, (which, args, err)
                    continue
                if which == "session" and args[0] in ("ls", "check"):
                    assert r.returncode in (0, 1), (which, args, err)
                    continue
                assert r.returncode == 2, (which, args, r.returncode, out[-300:], err)
                lines = err.strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("crabview: "), (which, args, err)
                assert "ermission denied" in lines[0], (which, args, err)
        finally:
            target.chmod(0o755)


def test_last_resort_handler_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    code = (
        "import crabview.cli as c\n"
        "def boom(*a, **k): raise RuntimeError('bug \\x1b]0;pwned\\x07 here')\n"
        "c.Store.open = boom\n"
        "import sys; sys.argv = ['crabview', 'ls', '/nonexistent-crabview']\n"
        "c.run()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and raw_controls(r.stderr) == []
    assert r.stderr.strip().splitlines() == ["crabview: internal error (RuntimeError): bug ␛]0;pwned␇ here"]


def test_palette_text_is_never_markup(hostile) -> None:
    """The command palette builds Text hits: a title or slug with @click shows literally."""
    import asyncio

    from crabview.tui.commands import CrabviewCommands
    from crabview.tui.safe_ui import highlighted_hit_text

    t = highlighted_hit_text(f"Open session {CLICK_SCREENSHOT}", [0, 14, 15])
    assert t.plain == f"Open session {CLICK_SCREENSHOT}"
    assert not any("@click" in str(s.style) for s in t.spans)
    assert asyncio and CrabviewCommands and EVIL_STEP_NAME
