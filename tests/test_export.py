"""``crabview export``: outputs parsed back, never a write into the store."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import DaemonWriter, build_demo
from crabview.render import files as rf
from crabview.render.html import session_html
from crabview.store import models as m
from crabview.store.store import Store

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


class Checker(HTMLParser):
    """Collects text, ids and tags, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.ids: list[str] = []
        self.tags: dict[str, int] = {}
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k == "id" and v:
                self.ids.append(v)
            if k == "class" and v:
                self.classes.extend(v.split())
            if k.startswith("on") or (v or "").lower().startswith("javascript:"):
                self.errors.append(f"active attribute {k}={v!r}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(doc: str) -> Checker:
    c = Checker()
    c.feed(doc)
    c.close()
    assert not c.errors, c.errors[:5]
    assert c.stack == [], c.stack
    return c


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = build_demo(tmp_path / "store")
    w = DaemonWriter(root)
    # hostile content: markup, an escape sequence, a bidi override, a fake closing tag
    w.append(
        "crab_user_2",
        m.HistoryEntry(
            message=m.Message(
                "user",
                [m.TextBlock("<script>alert(1)</script> \x1b[2J \u202eevil</details></section>"), m.ThinkingBlock("<b>t</b>")],
            )
        ),
    )
    return root


def run(args: list[str]) -> tuple[int, bytes, str]:
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    return r.exit_code, r.stdout_bytes, r.stderr


def test_md_is_the_transcript(store_root: Path) -> None:
    store = Store.open(store_root)
    for e in store.session_entries():
        code, out, _ = run(["export", e.slug, "--root", str(store_root)])
        assert code == 0
        s = store.load_session(e.slug)
        assert out == rf.transcript_bytes(s)
        text = out.decode()
        for st in s.steps:
            assert st.name in text
    code, out, _ = run(["export", "crab_user_1", "--root", str(store_root), "--replay"])
    s = store.load_session("crab_user_1")
    text = out.decode()
    replayed = {s.steps[i].name for i in s.replay_indices}
    assert replayed and all(n in text for n in replayed)
    assert "step-000001`" not in text  # before the last compact: not in the replay


def test_md_by_session_dir(store_root: Path) -> None:
    code, out, _ = run(["export", str(store_root / "sessions" / "crab_user_1")])
    assert code == 0
    assert out == rf.transcript_bytes(Store.open(store_root).load_session("crab_user_1"))


def test_jsonl_decodes_line_by_line(store_root: Path) -> None:
    store = Store.open(store_root)
    for slug in ("crab_user_1", "coder_delegate-42_1", "researcher_tg-12345_1", "crab_ops_1"):
        s = store.load_session(slug)
        code, out, err = run(["export", slug, "--root", str(store_root), "--format", "jsonl"])
        if s.load_status != "ok":  # nothing to replay: say why, exit 1 (issue 10 item 9)
            assert code == 1 and out == b"" and "load of this session fails" in err, (slug, err)
            continue
        assert code == 0
        rows = [json.loads(line) for line in out.decode().splitlines()]
        files = [r["file"] for r in rows if "file" in r]
        assert files == [s.steps[i].name for i in s.replay_indices]
        if s.archive is not None:
            assert rows[0]["archive"] == s.archive and rows[0]["content"] == s.archive_text
            assert rows[0]["found"] is bool(s.archive_found)
        for r in rows:
            if "entry" in r:
                assert r["entry"]["message"]["role"] in ("user", "assistant", "tool", "system")
    s = store.load_session("coder_delegate-42_1")
    assert s.archive_found is False
    code, out, _ = run(["export", "coder_delegate-42_1", "--root", str(store_root), "--format", "jsonl"])
    assert json.loads(out.splitlines()[0])["content"] == "[archived context unavailable: coder-delegate-42-1-lost]"
    # --all: every step file with the daemon's verdict
    code, out, _ = run(["export", "researcher_tg-12345_1", "--root", str(store_root), "--format", "jsonl", "--all"])
    rows = [json.loads(line) for line in out.decode().splitlines()]
    s = store.load_session("researcher_tg-12345_1")
    assert [r["file"] for r in rows] == [st.name for st in s.steps]
    assert [r["kind"] for r in rows] == [st.kind for st in s.steps]


def test_jsonl_is_inert_but_exact(store_root: Path) -> None:
    code, out, _ = run(["export", "crab_user_2", "--root", str(store_root), "--format", "jsonl"])
    text = out.decode()
    assert "\x1b" not in text and "\u202e" not in text
    last = json.loads(text.splitlines()[-1])
    assert last["entry"]["message"]["content"][0]["text"].startswith("<script>alert(1)</script> \x1b[2J \u202eevil")


def test_html_parses_and_has_every_step(store_root: Path, tmp_path: Path) -> None:
    store = Store.open(store_root)
    for e in store.session_entries():
        out_file = tmp_path / f"{e.slug}.html"
        code, _out, err = run(["export", e.slug, "--root", str(store_root), "--format", "html", "-o", str(out_file)])
        assert code == 0, err
        doc = out_file.read_text(encoding="utf-8")
        assert doc.startswith("<!DOCTYPE html>")
        c = parse_html(doc)
        s = store.load_session(e.slug)
        text = "".join(c.text)
        for st in s.steps:
            assert st.name in c.ids and st.name in text
        assert c.tags.get("style") == 1
        for forbidden in ("script", "link", "img", "iframe"):
            assert forbidden not in c.tags, forbidden
        for p in s.problems:
            assert p.code in text
    doc = session_html(store.load_session("crab_user_1"))
    c = parse_html(doc)
    assert c.tags["details"] >= 3 and "divider" in c.classes and "not-replayed" in c.classes
    doc = session_html(store.load_session("researcher_tg-12345_1"))
    c = parse_html(doc)
    assert "kind-unparsable" in c.classes and "problems" in c.classes


def test_html_is_inert(store_root: Path) -> None:
    doc = session_html(Store.open(store_root).load_session("crab_user_2"))
    c = parse_html(doc)
    assert "script" not in c.tags
    assert "\x1b" not in doc and "\u202e" not in doc
    text = "".join(c.text)
    assert "<script>alert(1)</script>" in text  # shown as text, not markup
    assert "␛[2J" in text and "<U+202E>evil" in text


def test_html_replay_only(store_root: Path) -> None:
    store = Store.open(store_root)
    s = store.load_session("crab_user_1")
    c = parse_html(session_html(s, replay_only=True))
    assert set(c.ids) == {s.steps[i].name for i in s.replay_indices}
    assert s.archive_text in "".join(c.text)


def test_refuses_to_write_into_the_store(store_root: Path) -> None:
    target = store_root / "sessions" / "crab_user_1" / "export.md"
    code, _out, err = run(["export", "crab_user_1", "--root", str(store_root), "-o", str(target)])
    assert code == 2 and "refusing" in err
    assert not target.exists()
    code, _out, err = run(["export", "no_such_1", "--root", str(store_root)])
    assert code == 2 and "no session" in err


def test_export_leaves_the_store_alone(store_root: Path, tmp_path: Path) -> None:
    before = sorted((p.relative_to(store_root), p.stat().st_mtime_ns) for p in store_root.rglob("*"))
    for fmt in ("md", "html", "jsonl"):
        assert run(["export", "crab_user_1", "--root", str(store_root), "--format", fmt, "-o", str(tmp_path / f"x.{fmt}")])[0] == 0
    after = sorted((p.relative_to(store_root), p.stat().st_mtime_ns) for p in store_root.rglob("*"))
    assert before == after
