"""Benchmark: full session load and `ls --quick` against raw-read floors measured in the same run.

Run: python tests/bench/load.py [--steps 100000] [--sessions 10000] [--rounds 7]

Each round measures the floor and then the thing itself, back to back, so a
busy machine slows both; the figure is the median of the per-round ratios,
with their spread (min-max). It asserts nothing about time.

Floors:
- load: one thread doing os.open/os.read/os.close on every step file.
- ls --quick: per session, os.open/os.read/os.close of `meta` and one
  os.listdir of the directory, plus the scan of sessions/ that finds them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import shutil
import statistics
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


def quick_cli(root: Path) -> None:
    with open(os.devnull, "w") as out, contextlib.redirect_stdout(out):
        cli_main.main(["ls", "--quick", str(root)], standalone_mode=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dir", help="build the stores here (default: a new temporary directory)")
    ap.add_argument("--keep", action="store_true", help="leave the stores behind")
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
    slug = build_big_session(big, args.steps)
    many = tmp / "many"
    build_many_sessions(many, args.sessions)
    print(f"built in {time.perf_counter() - t:.1f}s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

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

    store = Store.open(many)
    sessions_dir = store.sessions_dir
    count = len(store.session_entries())
    print()
    print(f"ls over {count:,} sessions (floor: list sessions/, then per session read meta + list its directory):")
    summaries = Paired(lambda: ls_floor(sessions_dir), lambda: Store.open(many).summaries(), args.rounds)
    print(summaries.line("Store.summaries (meta + names)"))
    quick = Paired(lambda: ls_floor(sessions_dir), lambda: quick_cli(many), args.rounds)
    print(quick.line("ls --quick (the command, to /dev/null)", None, "   target <= 1.3x"))
    fullls = Paired(lambda: ls_floor(sessions_dir), lambda: [(x.problems, x.compact_count) for x in store.iter_sessions()], 1)
    print(fullls.line("ls (full: decodes every step)"))


if __name__ == "__main__":
    main()
