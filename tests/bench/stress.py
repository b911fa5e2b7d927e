"""Live stress: a daemon-like writer under fire while followers keep up.

200 steps/s across 20 sessions, with crashes that leave tmp files,
sessions deleted and recreated, meta and memory.db rewritten. Followers:
``crabview tail -f --json`` (a separate process) and, where FUSE works, a
mount whose steps/ directories are listed. Prints steps lost, duplicated
or reordered, tracebacks seen, memory growth of the follower, latency.

Run: python tests/bench/stress.py [--seconds 120] [--rate 200] [--sessions 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.fuzzing import StressWriter, compare_stream  # noqa: E402


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def follow_with_tail(root: Path, writer: StressWriter, seconds: float) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crabview", "tail", str(root), "-n", "0", "-f", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    got: dict[str, list[tuple[str, float]]] = {}
    errors: list[str] = []
    ready = threading.Event()

    def out() -> None:
        buf = b""
        while True:
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                return
            now = time.monotonic()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                d = json.loads(line)
                got.setdefault(d["slug"], []).append((d["file"], now))

    def err() -> None:
        for line in proc.stderr:
            s = line.decode(errors="replace")
            if "following" in s:
                ready.set()
            if "Traceback" in s or "Error" in s:
                errors.append(s.strip())

    threading.Thread(target=out, daemon=True).start()
    threading.Thread(target=err, daemon=True).start()
    assert ready.wait(30), "tail -f did not start"
    rss0 = rss_kb(proc.pid)
    writer.run(seconds)
    time.sleep(1.5)  # let the follower drain (tmp grace is 0.5 s)
    rss1 = rss_kb(proc.pid)
    proc.terminate()
    proc.wait(10)
    res = compare_stream(writer.written, got)
    res.update(errors=errors, rss0=rss0, rss1=rss1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--sessions", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crabview-stress-"))
    writer = StressWriter(tmp / "root", sessions=args.sessions, rate=args.rate)
    res = follow_with_tail(tmp / "root", writer, args.seconds)
    lat = res["latencies_ms"]
    print(f"writer: {writer.counts} over {args.seconds:.0f} s")
    print(
        f"tail -f --json: lost {res['lost']}  duplicated {res['duplicated']}  reordered {res['reordered']}  "
        f"tracebacks {len(res['errors'])}"
    )
    print(f"  latency p50 {statistics.median(lat):.1f} ms  p95 {pct(lat, 95):.1f} ms  p99 {pct(lat, 99):.1f} ms  max {max(lat):.1f} ms")
    print(f"  follower RSS {res['rss0'] / 1024:.1f} MB → {res['rss1'] / 1024:.1f} MB")
    for e in res["errors"][:5]:
        print("  stderr:", e)


if __name__ == "__main__":
    main()
