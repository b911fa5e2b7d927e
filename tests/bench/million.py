"""Benchmark: a 1,000,000-step session loads; time and memory against same-run floors.

Run: python tests/bench/million.py [--steps 1000000] [--rounds 3] [--dir DIR]

Builds the session on /dev/shm when there is one (tmpfs: a million files
are written in seconds there, not minutes) and removes it afterwards.
Prints: the load against one thread's os.open/os.read/os.close floor over
the same files, the memory the loaded session holds against the session's
bytes (tracemalloc), the peak while loading, and that the derived facts
(problems, replay, counter) come out. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Paired, build_big_session, memory_of, raw_read  # noqa: E402

from crabview.store.memory import load_memory  # noqa: E402
from crabview.store.session import load_session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", help="build here (default: /dev/shm if present, else the temp dir)")
    args = ap.parse_args()
    where = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    tmp = Path(tempfile.mkdtemp(prefix="crabview-million-", dir=where))
    try:
        run(tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, args: argparse.Namespace) -> None:
    print(f"building a {args.steps:,}-step session in {tmp} …", flush=True)
    t = time.perf_counter()
    root = tmp / "root"
    slug = build_big_session(root, args.steps)
    print(f"built in {time.perf_counter() - t:.1f}s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    sdir = root / "sessions" / slug
    names = sorted(n for n in os.listdir(sdir) if n.startswith("step-"))
    paths = [str(sdir / n) for n in names]
    nbytes = raw_read(paths)
    n = len(paths)
    mem = load_memory(root / "memory.db")
    print()
    print(f"session: {n:,} step files, {nbytes / 1e6:.1f} MB")
    load = Paired(lambda: raw_read(paths), lambda: load_session(sdir, mem), args.rounds)
    print(load.line("full load (scan, read, decode)", n, "   target <= 1.3x"))
    s, held, peak = memory_of(lambda: load_session(sdir, mem))
    print(f"  memory held by the loaded session: {held / 1e6:.1f} MB = {held / nbytes:.2f}x its bytes   target <= 1.6x")
    print(f"  peak while loading: {peak / 1e6:.1f} MB = {peak / nbytes:.2f}x its bytes")
    t = time.perf_counter()
    problems = s.problems
    replay = s.replay_indices
    print(f"  derived facts in {(time.perf_counter() - t) * 1e3:.0f} ms: {len(replay):,} entries replayed from "
          f"{s.boundary.name if s.boundary else 'the start'}, next step {s.next_step:,}, "
          f"problems {sorted({p.code for p in problems})}")
    print(f"  verdicts: {s.kind_counts()}")
    last = s.steps[-1]
    print(f"  last step in load order: {last.name} ({last.kind}), value re-read on use: {type(last.value).__name__}")


if __name__ == "__main__":
    main()
