"""Benchmark: live tailing, end to end.

A daemon-like writer appends steps (tmp + rename) while ``crabview tail -f
--json`` runs as a separate process; latency is measured from the rename
to the moment the JSON line is read from tail's stdout (CLOCK_MONOTONIC is
shared by both processes). Also: file reads per appended step in a loaded
100k-step session, and the idle CPU of tail -f on a quiet store.

Run: python tests/bench/live.py [--steps 500] [--interval 0.02] [--burst 5000] [--big 100000] [--idle 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.demo import DaemonWriter, turn  # noqa: E402
from crabview.store import models as m  # noqa: E402
from crabview.store.session import load_session  # noqa: E402


def entry(i: int) -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("assistant", [m.TextBlock(f"live step {i} " + "x" * 80)]))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class TailProc:
    def __init__(self, target: Path, poll: bool = False):
        args = [sys.executable, "-m", "crabview", "tail", str(target), "-n", "0", "-f", "--json"]
        if poll:
            args.append("--poll")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self.seen: dict[str, float] = {}
        self.order: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()
        if not self.ready.wait(20):
            raise SystemExit("tail -f did not start")

    def _out(self) -> None:
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(65536) if hasattr(self.proc.stdout, "read1") else os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            now = time.monotonic()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                f = json.loads(line)["file"]
                self.order.append(f)
                self.seen.setdefault(f, now)

    def _err(self) -> None:
        for line in self.proc.stderr:
            if b"following" in line:
                self.ready.set()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def run_appends(w: DaemonWriter, slug: str, count: int, interval: float, start: int) -> dict[str, float]:
    renamed: dict[str, float] = {}
    next_t = time.monotonic()
    for i in range(count):
        p = w.append(w_slug := slug, entry(start + i))
        renamed[p.name] = time.monotonic()
        if interval:
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    return renamed


def report(label: str, renamed: dict[str, float], tail: TailProc, wait: float = 10.0) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not all(n in tail.seen for n in renamed):
        time.sleep(0.01)
    lat = [(tail.seen[n] - t) * 1e3 for n, t in renamed.items() if n in tail.seen]
    lost = sum(1 for n in renamed if n not in tail.seen)
    mine = [f for f in tail.order if f in renamed]
    dup = len(mine) - len(set(mine))
    reordered = sum(1 for a, b in zip(mine, mine[1:]) if b < a)
    print(
        f"{label:<34} n={len(renamed):5d}  p50 {statistics.median(lat):6.1f} ms  p95 {pct(lat, 95):6.1f} ms  "
        f"max {max(lat):6.1f} ms  lost {lost}  dup {dup}  reordered {reordered}"
    )


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--burst", type=int, default=5000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--poll", action="store_true", help="also measure the poll fallback")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crabview-live-"))
    w = DaemonWriter(tmp / "root")
    slug = w.create_session("Crab", "live")
    w.append(slug, entry(0))

    modes = [False, True] if args.poll else [False]
    for poll in modes:
        name = "poll" if poll else "inotify"
        tail = TailProc(w.sessions_dir / slug, poll=poll)
        try:
            renamed = run_appends(w, slug, args.steps, args.interval, 1)
            report(f"{name}: {args.steps} steps @ {args.interval * 1e3:.0f} ms", renamed, tail)
            renamed = run_appends(w, slug, args.burst, 0, 10_000)
            report(f"{name}: burst of {args.burst}", renamed, tail, wait=60)
        finally:
            tail.stop()

    # reads per appended step in a loaded big session
    big_root = tmp / "big"
    bw = DaemonWriter(big_root, atomic=False)
    bslug = bw.create_session("Crab", "big")
    rng = random.Random(5)
    i = 0
    while i < args.big:
        turn(bw, bslug, rng, i)
        i += 7
    s = load_session(bw.sessions_dir / bslug)
    import crabview.store.session as session_mod

    reads = {"n": 0}
    real_open = os.open

    def counting_open(path, flags, *a, **kw):
        if isinstance(path, (str, bytes)) and os.path.basename(str(path)).startswith("step-"):
            reads["n"] += 1
        return real_open(path, flags, *a, **kw)

    bw.atomic = True
    appended = [bw.append(bslug, entry(k)).name for k in range(100)]
    session_mod.os.open = counting_open  # type: ignore[assignment]
    try:
        t = time.perf_counter()
        for name in appended:
            s.refresh([name])
        dt = time.perf_counter() - t
    finally:
        session_mod.os.open = real_open  # type: ignore[assignment]
    print(
        f"refresh in a loaded {len(s.steps) - 100:,}-step session: {reads['n'] / len(appended):.2f} file reads per appended step, "
        f"{dt / len(appended) * 1e3:.2f} ms per step"
    )

    # idle CPU of tail -f on a quiet store
    tail = TailProc(w.sessions_dir / slug)
    try:
        c0 = cpu_seconds(tail.proc.pid)
        time.sleep(args.idle)
        c1 = cpu_seconds(tail.proc.pid)
    finally:
        tail.stop()
    print(f"idle CPU of tail -f over {args.idle:.0f} s: {100 * (c1 - c0) / args.idle:.2f} %")


if __name__ == "__main__":
    main()
