"""Benchmark: streamed output (`show --json`, `check --json`, `export`) against a plain load, same run.

Run: python tests/bench/stream.py [--steps 100000] [--rounds 3] [--code DIR]

For a session of --steps step files, each command runs in its own process
with stdout to /dev/null; its wall time and peak RSS (``os.wait4``) are
set against the floor of the same run: a process that imports the CLI and
loads the session, and writes nothing. Rounds alternate floor and
commands, so a busy machine slows both; the figures are medians, ratios
are per round (median, with the spread). Targets: time <= 2x the load,
peak RSS <= 1.2x the load's. It asserts nothing.

--code DIR runs the commands (and the floor) with DIR first on PYTHONPATH,
e.g. an unpacked older tree (`git archive <rev> crabview | tar -x -C DIR`),
to compare against it in the same way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load import build_big_session  # noqa: E402  (the same session as the load benchmark)

FLOOR = """
import sys
from crabview.cli import main  # the same imports as a command
from crabview.store.store import Store
s = Store.open(sys.argv[1]).load_session(sys.argv[2])
s.kind_counts(); s.replay_indices
"""


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one process, stdout to /dev/null."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/")
    assert p.stderr is not None
    err = p.stderr.read()
    _pid, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{argv[3:]} failed ({p.returncode}): {err.decode(errors='replace')[:500]}")
    return wall, usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--code", help="put this directory first on PYTHONPATH (an older tree to compare)")
    ap.add_argument("--only", help="comma-separated command labels to run")
    args = ap.parse_args()

    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = os.path.abspath(args.code)
    tmp = Path(tempfile.mkdtemp(prefix="crabview-bench-stream-"))
    try:
        root = tmp / "root"
        t0 = time.perf_counter()
        slug = build_big_session(root, args.steps)
        files = len(os.listdir(root / "sessions" / slug))
        size = sum(e.stat().st_size for e in os.scandir(root / "sessions" / slug))
        print(f"session: {files:,} files, {size / 1e6:.1f} MB, built in {time.perf_counter() - t0:.1f} s")
        py = sys.executable
        cli = [py, "-m", "crabview"]
        commands = {
            "show --json": [*cli, "show", "--json", "--root", str(root), slug],
            "show --json --replay": [*cli, "show", "--json", "--replay", "--root", str(root), slug],
            "check --json": [*cli, "check", "--json", str(root)],
            "export md": [*cli, "export", "--format", "md", "--root", str(root), slug],
            "export html": [*cli, "export", "--format", "html", "--root", str(root), slug],
            "export jsonl (replay)": [*cli, "export", "--format", "jsonl", "--root", str(root), slug],
            "export jsonl --all": [*cli, "export", "--format", "jsonl", "--all", "--root", str(root), slug],
            "export otlp": [*cli, "export", "--format", "otlp", "--root", str(root), slug],
        }
        if args.only:
            keep = set(args.only.split(","))
            commands = {k: v for k, v in commands.items() if k in keep}
        floor_argv = [py, "-c", FLOOR, str(root), slug]
        floors: list[tuple[float, int]] = []
        runs: dict[str, list[tuple[float, int]]] = {k: [] for k in commands}
        ratios: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        measure(floor_argv, env)  # warm the page cache and the imports
        for _ in range(args.rounds):
            for label, argv in commands.items():
                ft, fm = measure(floor_argv, env)
                floors.append((ft, fm))
                t, mem = measure(argv, env)
                runs[label].append((t, mem))
                ratios[label].append((t / ft, mem / fm))
        ft = statistics.median(f[0] for f in floors)
        fm = statistics.median(f[1] for f in floors)
        print(f"floor (import the CLI + load the session): {ft * 1000:.0f} ms, peak RSS {fm / 2**20:.0f} MB (median of {len(floors)})")
        print(f"{'command':<24} {'time':>8} {'RSS':>8}   {'time/load':>20}   {'RSS/load':>20}")
        for label in commands:
            t = statistics.median(r[0] for r in runs[label])
            mem = statistics.median(r[1] for r in runs[label])
            tr = [r[0] for r in ratios[label]]
            mr = [r[1] for r in ratios[label]]
            print(
                f"{label:<24} {t * 1000:>6.0f}ms {mem / 2**20:>6.0f}MB   "
                f"{statistics.median(tr):>5.2f}x ({min(tr):.2f}-{max(tr):.2f})   "
                f"{statistics.median(mr):>5.2f}x ({min(mr):.2f}-{max(mr):.2f})"
            )
        print("targets: time <= 2x the load, RSS <= 1.2x the load's")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
