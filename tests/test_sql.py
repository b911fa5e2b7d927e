"""`crabview sql` against the CLI's own `check --json` on generated stores,
on real DuckDB, and the README's five queries as documented."""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from crabview.cli import main
from crabview.demo import build_demo
from data_support import build_varied_store

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def sql_json(*args: str) -> list[dict]:
    code, out, err = cli("sql", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def check_json(root: Path) -> dict:
    code, out, _ = cli("check", "--json", str(root))
    assert code in (0, 1)
    return json.loads(out)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> list[Path]:
    base = tmp_path_factory.mktemp("sql")
    return [build_demo(base / "demo"), build_varied_store(base / "a", 1).root, build_varied_store(base / "b", 2, 12).root]


def test_tables_agree_with_check_json(stores):
    args = [f"s{i}={p}" for i, p in enumerate(stores)]
    by_kind = collections.Counter()
    for r in sql_json(*args, "SELECT store, slug, kind, count(*) AS n FROM steps GROUP BY ALL"):
        by_kind[(r["store"], r["slug"], r["kind"])] = r["n"]
    replayed = collections.defaultdict(list)
    for r in sql_json(*args, "SELECT store, slug, file FROM steps WHERE replayed ORDER BY store, slug, position"):
        replayed[(r["store"], r["slug"])].append(r["file"])
    codes = collections.Counter(
        (r["store"], r["slug"], r["code"]) for r in sql_json(*args, "SELECT store, slug, code FROM problems")
    )
    tokens = {
        (r["store"], r["slug"]): r
        for r in sql_json(*args, "SELECT store, slug, count(*) AS turns, sum(prompt_tokens) AS p, sum(completion_tokens) AS c, sum(total_tokens) AS t FROM turns GROUP BY ALL")
    }
    sessions = {(r["store"], r["slug"]): r for r in sql_json(*args, "SELECT * FROM sessions")}
    compacts = collections.Counter((r["store"], r["slug"]) for r in sql_json(*args, "SELECT store, slug FROM compacts"))
    expected_sessions = 0
    for i, root in enumerate(stores):
        label = f"s{i}"
        chk = check_json(root)
        for p in chk["store_problems"]:
            assert codes.pop((label, None, p["code"]), 0) >= 1
        for slug, s in chk["sessions"].items():
            expected_sessions += 1
            key = (label, slug)
            for kind, n in s["counts"].items():
                assert by_kind.get((label, slug, kind), 0) == n, (key, kind)
            assert replayed.get(key, []) == s["replay_files"]
            want = collections.Counter(p["code"] for p in s["problems"])
            for code, n in want.items():
                assert codes[(label, slug, code)] == n, (key, code)
                del codes[(label, slug, code)]
            u = s["usage"]
            got = tokens.get(key, {"turns": 0, "p": 0, "c": 0, "t": 0})
            assert (got["turns"], got["p"] or 0, got["c"] or 0, got["t"] or 0) == (u["turns"], u["prompt_tokens"], u["completion_tokens"], u["total_tokens"])
            row = sessions[key]
            assert row["load_status"] == s["load"]
            assert row["meta_status"] == s["meta_status"]
            assert row["listed"] == s["listed"] and row["hidden"] == (not s["listed"])
            assert row["next_step"] == s["next_step"]
            assert row["archive"] == s["archive"] and row["archive_found"] == s["archive_found"]
            assert row["steps"] == len(s["steps"]) and row["problems"] == len(s["problems"])
            assert row["replay_start"] == s["replay_start"]
            assert compacts.get(key, 0) == s["counts"]["compact"] + s["counts"]["legacy_compact"] == row["compacts"]
    assert not +codes, f"problems the check did not report: {dict(codes)}"
    assert len(sessions) == expected_sessions


def test_tool_calls_pair_start_result_and_duration(stores):
    rows = sql_json(str(stores[0]), "SELECT * FROM tool_calls WHERE slug = 'crab_user_1' ORDER BY call_step")
    steps = {r["file"]: r for r in sql_json(str(stores[0]), "SELECT file, event, ts FROM steps WHERE slug = 'crab_user_1'")}
    assert len(rows) == 10  # build_demo: ten turns, one call each
    for r in rows:
        assert steps[r["call_step"]]["event"] == "tool_start" and r["started_at"] == steps[r["call_step"]]["ts"]
        assert steps[r["result_event_step"]]["event"] == "tool_result" and r["finished_at"] == steps[r["result_event_step"]]["ts"]
        assert r["result_step"] is not None and r["duration_ms"] >= 40 and r["name"]


def _readme_queries() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## The store as data", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"\n([^\n`]+):\n\n```sql\n(.*?)```", section, re.S)
    return {title.strip(): q for title, q in found}


def test_readme_queries(stores):
    q = _readme_queries()
    assert len(q) == 5, list(q)
    root = str(stores[0])
    chk = check_json(stores[0])
    sessions = chk["sessions"]

    per_model = sql_json(root, q["Tokens per model per day"])
    assert sum(r["total"] for r in per_model) == sum(s["usage"]["total_tokens"] for s in sessions.values())
    assert {r["model"] for r in per_model} == {"deepseek-chat"} and all(r["day"].startswith("2026-11-20") for r in per_model)

    slow = sql_json(root, q["Slowest tools"])
    assert [r["avg_ms"] for r in slow] == sorted((r["avg_ms"] for r in slow), reverse=True) and slow
    all_calls = sql_json(root, "SELECT count(*) AS n FROM tool_calls WHERE duration_ms IS NOT NULL")[0]["n"]
    assert sum(r["calls"] for r in slow) <= all_calls

    nothing = {r["slug"] for r in sql_json(root, q["Sessions whose resume replays nothing"])}
    assert nothing == {slug for slug, s in sessions.items() if not s["replay_files"]} == {"crab_ops_1", "crab_ops_2"}

    skipped = sql_json(root, q["Skipped steps per store (the daemon skips unparsable files on resume)"])
    assert [(r["skipped"], r["files"]) for r in skipped] == [
        (sum(s["counts"]["unparsable"] for s in sessions.values()), sum(len(s["steps"]) for s in sessions.values()))
    ]

    tmps = sql_json(root, q["Tmp leftovers (step, meta and memory.db tmp files)"])
    want = sorted((slug, p["file"]) for slug, s in sessions.items() for p in s["problems"] if p["code"] == "leftover_tmp")
    assert sorted((r["slug"], r["file"]) for r in tmps) == want and len(want) == 2


def test_query_error_is_one_line_exit_2(stores):
    r = subprocess.run([sys.executable, "-m", "crabview", "sql", str(stores[0]), "SELEC nonsense"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crabview: query failed:") and "Traceback" not in r.stderr


def test_queries_cannot_write_files(stores, tmp_path):
    target = stores[1] / "sessions" / "written.csv"
    code, _out, err = cli("sql", str(stores[1]), f"COPY steps TO '{target}'")
    assert code == 2 and "query failed" in err
    assert not target.exists()


def test_store_text_is_inert_in_table_and_csv(stores):
    q = "SELECT slug, text FROM steps WHERE text LIKE '%markup%'"
    code, out, _ = cli("sql", str(stores[0]), q)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "␛[31m" in out
    assert out.splitlines()[-1] == "(1 row)"
    code, out, _ = cli("sql", "--csv", str(stores[0]), q)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["slug", "text"] and "\x1b" not in out and "␛" in rows[1][1]
    code, out, _ = cli("sql", "--json", str(stores[0]), q)
    assert out.isascii() and json.loads(out)[0]["text"].count("\x1b") == 2  # exact data, escaped on the wire


def test_schema_lists_every_table():
    code, out, _ = cli("sql", "--schema")
    assert code == 0
    for t in ("sessions", "steps", "tool_calls", "turns", "compacts", "problems"):
        assert re.search(rf"^{t}$", out, re.M)
    code, out, _ = cli("sql", "--schema", "--json")
    cols = {t: [c["column"] for c in v] for t, v in json.loads(out).items()}
    assert all(c[:2] == ["store", "slug"] for c in cols.values())
    assert {"prompt_cache_hit_tokens", "reasoning_tokens", "iterations", "stop_reason"} <= set(cols["turns"])


def test_parquet_written_outside_and_refused_inside(stores, tmp_path):
    out = tmp_path / "pq"
    code, _o, err = cli("sql", "--parquet", str(out), str(stores[0]))
    assert code == 0, err
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM '{out / 'steps.parquet'}'").fetchone()[0]
    assert n == sum(len(s["steps"]) for s in check_json(stores[0])["sessions"].values())
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.parquet" for t in ("sessions", "steps", "tool_calls", "turns", "compacts", "problems"))
    inside = stores[0] / "sessions" / "pq"
    before = sorted(os.listdir(stores[0] / "sessions"))
    code, _o, err = cli("sql", "--parquet", str(inside), str(stores[0]), "SELECT 1")
    assert code == 2 and "refusing to write inside the store" in err
    assert sorted(os.listdir(stores[0] / "sessions")) == before


def test_store_column_is_path_or_label(stores):
    rows = sql_json(str(stores[1]), f"x={stores[2]}", "SELECT DISTINCT store FROM sessions ORDER BY store")
    assert sorted(r["store"] for r in rows) == sorted([str(stores[1]), "x"])
    code, _o, err = cli("sql", f"x={stores[1]}", f"x={stores[2]}", "SELECT 1")
    assert code == 2 and "already used" in err
