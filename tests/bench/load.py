"""Benchmark: full session load and ls against raw-read floors measured in the same run.

Run: python tests/bench/load.py [--steps 100000] [--sessions 10000]
Prints per-file costs and ratios; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.demo import DaemonWriter, turn  # noqa: E402
from crabview.store.memory import load_memory  # noqa: E402
from crabview.store.session import load_session  # noqa: E402
from crabview.store.store import Store  # noqa: E402


def best_of(fn, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def raw_read(paths: list[str]) -> int:
    total = 0
    o, r, c = os.open, os.read, os.close
    flags = os.O_RDONLY
    for p in paths:
        fd = o(p, flags)
        total += len(r(fd, 65536))
        c(fd)
    return total


def build_big_session(root: Path, steps: int) -> str:
    w = DaemonWriter(root, atomic=False)
    slug = w.create_session("Crab", "bench", "100k steps")
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
    w = DaemonWriter(root, atomic=False)
    rng = random.Random(2)
    for k in range(count):
        slug = w.create_session(f"agent{k % 7}", f"user{k % 131}", f"session {k}")
        if k % 10 == 0:
            turn(w, slug, rng, k)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=10_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crabview-bench-"))
    print(f"building stores in {tmp} …", flush=True)
    t = time.perf_counter()
    big = tmp / "big"
    slug = build_big_session(big, args.steps)
    many = tmp / "many"
    build_many_sessions(many, args.sessions)
    print(f"built in {time.perf_counter() - t:.1f}s")

    sdir = big / "sessions" / slug
    names = sorted(n for n in os.listdir(sdir) if n.startswith("step-"))
    paths = [str(sdir / n) for n in names]
    nbytes = raw_read(paths)
    n = len(paths)
    floor = best_of(lambda: raw_read(paths))
    mem = load_memory(big / "memory.db")
    full = best_of(lambda: load_session(sdir, mem))
    s = load_session(sdir, mem)
    derive = best_of(lambda: (s._derived.clear(), s.problems, s.replay_indices, s.next_step, s.kind_counts()))
    print()
    print(f"session load: {n:,} step files, {nbytes / 1e6:.1f} MB")
    print(f"  raw-read floor (os.open/os.read/os.close): {floor * 1e3:8.1f} ms  {floor / n * 1e6:5.2f} µs/file")
    print(f"  full load (scan, read, decode, derive):    {full * 1e3:8.1f} ms  {full / n * 1e6:5.2f} µs/file")
    print(f"  ratio full/floor: {full / floor:.2f}x   (target <= 1.5x)")
    print(f"  problems+replay+counts derivation:         {derive * 1e3:8.1f} ms")
    kinds = s.kind_counts()
    print(f"  verdicts: {kinds}")

    store = Store.open(many)
    entries = store.session_entries()
    metas = [os.path.join(e.path, "meta") for e in entries]
    mfloor = best_of(lambda: raw_read(metas))
    quick = best_of(lambda: store.summaries())
    fullls = best_of(lambda: [ (x.problems, x.compact_count) for x in store.iter_sessions()], runs=1)
    print()
    print(f"ls over {len(entries):,} sessions:")
    print(f"  raw-read floor (the metas):  {mfloor * 1e3:8.1f} ms")
    print(f"  ls --quick (meta + names):   {quick * 1e3:8.1f} ms   ratio {quick / mfloor:.2f}x (target <= 2x)")
    print(f"  ls (full: decode all steps): {fullls * 1e3:8.1f} ms   ratio {fullls / mfloor:.2f}x")


if __name__ == "__main__":
    main()
