"""Benchmark: full session load and `ls --quick` against raw-read floors measured in the same run.

Run: python tests/bench/load.py [--steps 100000] [--sessions 10000] [--rounds 7] [--only load|ls]

Each round measures the floor and then the thing itself, back to back, so a
busy machine slows both; the figure is the median of the per-round ratios,
with their spread (min-max). It asserts nothing about time.

Floors:
- load: one thread doing os.open/os.read/os.close on every step file.
- ls --quick: per session, os.open/os.read/os.close of `meta` and one
  os.listdir of the directory, plus the scan of sessions/ that finds them.
  In-process, against `Store.summaries` and the command run by click with
  stdout to /dev/null; and as processes: `python -m crabview ls --quick`
  against `python -c <the floor>` (the floor plus `python -c pass`: both pay
  the interpreter's start, only the command pays its imports). The
  processes run with a bytecode cache (a temporary PYTHONPYCACHEPREFIX,
  warmed once), as an installed crabview has; where PYTHONDONTWRITEBYTECODE
  is set and no cache exists, every start compiles crabview's sources,
  which the last line measures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crabview.store.session as session_mod  # noqa: E402
from crabview.cli import main as cli_main  # noqa: E402
from crabview.demo import turn  # noqa: E402
from crabview.store.memory import load_memory  # noqa: E402
from crabview.store.session import load_session  # noqa: E402
from crabview.store.store import Store  # noqa: E402
from support.fast_writer import FastWriter  # noqa: E402


def build_big_session(root: Path, steps: int) -> str:
    with FastWriter(root) as w:
        slug = w.create_session("Crab", "bench", f"{steps:,} steps")
        rng = random.Random(1)
        i = 0
        while i < steps:
            turn(w, slug, rng, i)
            i += 7
            if i % 7000 < 7 and i > 7:
                w.compact(slug, f"summary up to turn {i}")
                i += 1
    return slug


def build_many_sessions(root: Path, count: int) -> None:
    with FastWriter(root) as w:
        rng = random.Random(2)
        for k in range(count):
            slug = w.create_session(f"agent{k % 7}", f"user{k % 131}", f"session {k}")
            if k % 10 == 0:
                turn(w, slug, rng, k)


def raw_read(paths: list[str]) -> int:
    total = 0
    o, r, c = os.open, os.read, os.close
    flags = os.O_RDONLY
    for p in paths:
        fd = o(p, flags)
        total += len(r(fd, 65536))
        c(fd)
    return total


def ls_floor(sessions_dir: Path) -> None:
    with os.scandir(sessions_dir) as it:
        dirs = [e.path for e in it if e.is_dir()]
    o, r, c, ls = os.open, os.read, os.close, os.listdir
    flags = os.O_RDONLY
    for d in dirs:
        fd = o(d + "/meta", flags)
        r(fd, 65536)
        c(fd)
        ls(d)


# ls_floor as a script of its own: the floor of `ls --quick` run as a process.
FLOOR_SCRIPT = """
import os, sys
with os.scandir(sys.argv[1]) as it:
    dirs = [e.path for e in it if e.is_dir()]
o, r, c, ls = os.open, os.read, os.close, os.listdir
for d in dirs:
    fd = o(d + "/meta", os.O_RDONLY)
    r(fd, 65536)
    c(fd)
    ls(d)
"""


def run_process(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env=env)


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class Paired:
    """Rounds of (floor, subject), back to back."""

    def __init__(self, floor: Callable[[], object], subject: Callable[[], object], rounds: int):
        self.floors: list[float] = []
        self.times: list[float] = []
        for _ in range(rounds):
            self.floors.append(timed(floor))
            self.times.append(timed(subject))
        self.ratios = sorted(t / f for t, f in zip(self.times, self.floors))

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def line(self, label: str, per: int | None = None, target: str = "") -> str:
        t, f = statistics.median(self.times), statistics.median(self.floors)
        per_s = f"  {t / per * 1e6:5.2f} µs/file (floor {f / per * 1e6:5.2f})" if per else ""
        return (
            f"  {label:<34} {t * 1e3:8.1f} ms (floor {f * 1e3:7.1f} ms){per_s}\n"
            f"  {'':<34} ratio {self.ratio:.2f}x  (spread {self.ratios[0]:.2f}-{self.ratios[-1]:.2f} over "
            f"{len(self.ratios)} rounds){target}"
        )


def memory_of(fn: Callable[[], object]) -> tuple[object, int, int]:
    """(result, traced bytes held after, peak traced bytes while running)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, held - base, peak - base


def quick_cli(root: Path, *args: str) -> None:
    with open(os.devnull, "w") as out, contextlib.redirect_stdout(out):
        cli_main.main(["ls", "--quick", *args, str(root)], standalone_mode=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dir", help="build the stores here (default: a new temporary directory)")
    ap.add_argument("--keep", action="store_true", help="leave the stores behind")
    ap.add_argument("--only", choices=["load", "ls"], help="measure only the session load, or only the listings")
    ap.add_argument("--many", type=Path, help="list this store instead of building one (e.g. one left by --keep)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crabview-bench-", dir=args.dir))
    try:
        run(tmp, args)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, args: argparse.Namespace) -> None:
    print(f"building stores in {tmp} …", flush=True)
    t = time.perf_counter()
    big = tmp / "big"
    slug = build_big_session(big, args.steps) if args.only != "ls" else ""
    many = args.many or tmp / "many"
    if args.only != "load" and args.many is None:
        build_many_sessions(many, args.sessions)
    print(f"built in {time.perf_counter() - t:.1f}s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if args.only != "ls":
        run_load(big, slug, args)
    if args.only != "load":
        run_ls(tmp, many, args)


def run_load(big: Path, slug: str, args: argparse.Namespace) -> None:
    sdir = big / "sessions" / slug
    names = sorted(n for n in os.listdir(sdir) if n.startswith("step-"))
    paths = [str(sdir / n) for n in names]
    nbytes = raw_read(paths)
    n = len(paths)
    mem = load_memory(big / "memory.db")
    print()
    print(f"session load: {n:,} step files, {nbytes / 1e6:.1f} MB")
    full = Paired(lambda: raw_read(paths), lambda: load_session(sdir, mem), args.rounds)
    print(full.line("full load (scan, read, decode)", n, "   target <= 1.3x, stretch <= 1.0x"))
    threshold = session_mod.PARALLEL_THRESHOLD
    session_mod.PARALLEL_THRESHOLD = 1 << 62
    try:
        single = Paired(lambda: raw_read(paths), lambda: load_session(sdir, mem), args.rounds)
    finally:
        session_mod.PARALLEL_THRESHOLD = threshold
    print(single.line("same, one reader (no child)", n))
    s, held, peak = memory_of(lambda: load_session(sdir, mem))
    print(f"  memory held by the loaded session: {held / 1e6:.1f} MB = {held / nbytes:.2f}x its bytes "
          f"(peak while loading {peak / nbytes:.2f}x)   target <= 1.6x")
    t = time.perf_counter()
    s._derived.clear()
    s.problems, s.replay_indices, s.next_step, s.kind_counts()
    print(f"  problems+replay+counts derivation: {(time.perf_counter() - t) * 1e3:.1f} ms")
    print(f"  verdicts: {s.kind_counts()}")


def run_ls(tmp: Path, many: Path, args: argparse.Namespace) -> None:
    store = Store.open(many)
    sessions_dir = store.sessions_dir
    count = len(store.session_entries())
    print()
    print(f"ls over {count:,} sessions (floor: list sessions/, then per session read meta + list its directory); "
          f"load average {load_average()}:")
    summaries = Paired(lambda: ls_floor(sessions_dir), lambda: Store.open(many).summaries(), args.rounds)
    print(summaries.line("Store.summaries (meta + names)"))
    quick = Paired(lambda: ls_floor(sessions_dir), lambda: quick_cli(many), args.rounds)
    print(quick.line("ls --quick (the command, to /dev/null)", None, "   target <= 1.3x"))
    quick_json = Paired(lambda: ls_floor(sessions_dir), lambda: quick_cli(many, "--json"), args.rounds)
    print(quick_json.line("ls --quick --json (to /dev/null)"))
    print(f"  as processes (floor: the same reads in `python -c`, which starts in {python_start(args.rounds) * 1e3:.1f} ms); "
          f"load average {load_average()}:")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    floor_proc = [sys.executable, "-c", FLOOR_SCRIPT, str(sessions_dir)]
    command = [sys.executable, "-m", "crabview", "ls", "--quick", str(many)]
    run_process(command, env)  # writes the bytecode cache
    proc = Paired(lambda: run_process(floor_proc, env), lambda: run_process(command, env), args.rounds)
    print(proc.line("python -m crabview ls --quick", None, "   target <= 1.3x"))
    cold = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "no-pycache")}
    proc_cold = Paired(lambda: run_process(floor_proc, cold), lambda: run_process(command, cold), args.rounds)
    print(proc_cold.line("same, no bytecode cache (compiles)"))
    fullls = Paired(lambda: ls_floor(sessions_dir), lambda: [(x.problems, x.compact_count) for x in store.iter_sessions()], 1)
    print(fullls.line("ls (full: decodes every step)"))
    print(f"  load average {load_average()}")


def python_start(rounds: int) -> float:
    return statistics.median(timed(lambda: run_process([sys.executable, "-c", "pass"], dict(os.environ))) for _ in range(rounds))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
