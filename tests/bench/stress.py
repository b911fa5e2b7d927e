"""Live stress: a daemon-like writer under fire while ``crabview tail -f --json`` follows.

200 steps/s across 20 sessions, with crashes that leave tmp files, meta and
memory.db rewritten, sessions deleted and recreated, the root replaced
(mv ROOT ROOT.old; mkdir ROOT), the root and single sessions renamed away
and back, steps rewritten in place, symlinked sessions, and the follower on
an exhausted watch budget (CRABVIEW_MAX_WATCHES: half of the session dirs
are polled). Prints steps written / printed / lost / duplicated / reordered,
rewrites missed, tracebacks seen, latency and the follower's memory.

Run: python tests/bench/stress.py [--seconds 120] [--rate 200] [--sessions 20] [--max-watches N]
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.stress import StressWriter, compare_stream  # noqa: E402


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


def follow_with_tail(root: Path, writer: StressWriter, seconds: float, max_watches: int | None = None) -> dict:
    env = dict(os.environ)
    if max_watches is not None:
        env["CRABVIEW_MAX_WATCHES"] = str(max_watches)
    proc = subprocess.Popen(
        [sys.executable, "-m", "crabview", "tail", str(root), "-n", "0", "-f", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        env=env,
    )
    got: dict[str, list[tuple[str, float]]] = {}
    got_rewritten: dict[str, int] = {}
    store_records: list[str] = []
    records: list[tuple] = []  # (time, slug, file, rewritten, store state): for a look at what went wrong
    errors: list[str] = []
    stderr_lines: list[str] = []
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
                records.append((now, d.get("slug"), d.get("file"), bool(d.get("rewritten")), d.get("state")))
                if "file" not in d:
                    store_records.append(d.get("state", "?"))
                elif d.get("rewritten"):
                    got_rewritten[d["slug"]] = got_rewritten.get(d["slug"], 0) + 1
                else:
                    got.setdefault(d["slug"], []).append((d["file"], now))

    def err() -> None:
        for line in proc.stderr:
            s = line.decode(errors="replace")
            stderr_lines.append(s.rstrip("\n"))
            if "following" in s:
                ready.set()
            if "Traceback" in s or "Error" in s:
                errors.append(s.strip())

    threading.Thread(target=out, daemon=True).start()
    threading.Thread(target=err, daemon=True).start()
    assert ready.wait(30), "tail -f did not start"
    rss0 = rss_kb(proc.pid)
    writer.run(seconds)
    time.sleep(2.0)  # let the follower drain (tmp grace 0.5 s, polled dirs 0.25 s)
    rss1 = rss_kb(proc.pid)
    proc.terminate()
    proc.wait(10)
    res = compare_stream(writer.written, got, writer.rewrites, got_rewritten)
    res.update(
        errors=errors,
        rss0=rss0,
        rss1=rss1,
        printed=sum(len(v) for v in got.values()),
        rewritten_printed=sum(got_rewritten.values()),
        store_records=store_records,
        stderr=stderr_lines,
        records=records,
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--max-watches", type=int, default=None, help="watch budget of the follower (default: half the sessions; -1: none)")
    args = ap.parse_args()
    budget = args.max_watches if args.max_watches is not None else 2 + args.sessions // 2
    budget = None if budget < 0 else budget
    tmp = Path(tempfile.mkdtemp(prefix="crabview-stress-"))
    writer = StressWriter(tmp / "root", sessions=args.sessions, rate=args.rate)
    res = follow_with_tail(tmp / "root", writer, args.seconds, max_watches=budget)
    lat = res["latencies_ms"]
    print(f"writer over {args.seconds:.0f} s: {writer.counts}")
    print(f"follower watch budget: {budget} watches; said: {[x for x in res['stderr'] if 'poll' in x][:1]}")
    print(
        f"tail -f --json: written {writer.counts['steps']}  printed {res['printed']}  lost {res['lost']}  "
        f"duplicated {res['duplicated']}  reordered {res['reordered']}  "
        f"rewrites {writer.counts['rewrites']} printed {res['rewritten_printed']} (missed {res['rewrites_missed']}, extra {res['rewrites_extra']})  "
        f"store records {len(res['store_records'])}  tracebacks {len(res['errors'])}"
    )
    print(f"  latency p50 {statistics.median(lat):.1f} ms  p95 {pct(lat, 95):.1f} ms  p99 {pct(lat, 99):.1f} ms  max {max(lat):.1f} ms")
    print(f"  follower RSS {res['rss0'] / 1024:.1f} MB → {res['rss1'] / 1024:.1f} MB")
    for e in res["errors"][:5]:
        print("  stderr:", e)


if __name__ == "__main__":
    main()
