"""`crabview sql` as a user meets it, run as a subprocess: queries that
hold nothing, a store given without a query, and DuckDB kept away from the
disk and the network (no spill files in the working directory, which may be
the store; no extension auto-install, which would download)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crabview.demo import build_demo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("sqlcli") / "demo")


def sql(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crabview", "sql", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def one_line_failure(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and r.stdout == "", r.stderr
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("query", ["", "   ", "\n", "  -- only a comment"])
def test_a_query_with_no_statement_is_a_bad_query(store, query):
    line = one_line_failure(sql(str(store), "--", query))
    assert line.startswith("crabview: query failed:") and "no SQL statement" in line


def test_a_store_without_a_query_asks_for_the_query(store, tmp_path):
    for args in ([str(store)], [f"demo={store}"]):
        line = one_line_failure(sql(*args))
        assert "give a QUERY" in line and str(store) in line, line


def test_spill_files_never_land_in_the_working_directory(store):
    """DuckDB spills big sorts and joins to `temp_directory`, by default
    `.tmp` under the working directory: run from inside a store, that would
    write into it. The spill directory is crabview's own, outside it."""
    r = sql(str(store), "--csv", "SELECT current_setting('temp_directory') AS t", cwd=store)
    assert r.returncode == 0, r.stderr
    spill = r.stdout.splitlines()[1]
    assert spill and os.path.isabs(spill), spill
    real = os.path.realpath(spill)
    assert not real.startswith(os.path.realpath(store) + os.sep) and real != os.path.realpath(store)
    assert sorted(os.listdir(store)) == ["memory.db", "sessions"]


def test_extensions_are_never_auto_installed(store):
    """A function from an extension that is not loaded must fail at once
    with DuckDB's catalog message, not by trying (and failing) to download
    the extension; nothing can be turned back on."""
    line = one_line_failure(sql(str(store), "SELECT * FROM read_xlsx('book.xlsx')"))
    assert "automatically install" not in line and "excel extension" in line, line
    r = sql(str(store), "--csv", "SELECT current_setting('autoinstall_known_extensions') AS i, "
            "current_setting('autoload_known_extensions') AS l, current_setting('allow_community_extensions') AS c, "
            "current_setting('enable_external_access') AS e")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "false,false,false,false", r.stdout
    for q in ("SET autoinstall_known_extensions = true", "INSTALL httpfs", "LOAD httpfs", "ATTACH 'x.db'",
              "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM 'https://127.0.0.1:9/x.parquet'"):
        assert one_line_failure(sql(str(store), q)).startswith("crabview: query failed:"), q
