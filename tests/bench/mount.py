"""Benchmark: ``grep -r`` over a mounted 10k-step store against the raw files, and step latency.

Run: python tests/bench/mount.py [--steps 10000] [--sessions 5] [--appends 50]

Builds a store with the daemon-like writer, mounts it with ``crabview mount
--foreground`` (in a child process, as a user would), and prints:

- ``grep -r WORD`` over the mount and over the raw session files, cold and
  warm, with the ratios. Cold for the mount is the first grep after a fresh
  mount (every step decoded and rendered on the way; best of 3 mounts),
  warm the best of 3 greps after that; cold for the raw
  files is their first grep after writing (the page cache is not dropped
  unless --drop-caches is given, which needs root and affects the machine).
- the time from a daemon-style write (tmp + rename) of a new step until its
  decoded file is visible under ``steps/`` (polling stat), p50/p95 over
  --appends appends.

It asserts nothing about time. Needs /dev/fuse and fusermount3.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.demo import DaemonWriter, turn  # noqa: E402
from crabview.store import models as m  # noqa: E402

WORD = "arm64"


def build(root: Path, steps: int, sessions: int) -> list[str]:
    w = DaemonWriter(root, atomic=False)
    rng = random.Random(1)
    slugs = []
    per = steps // sessions
    for k in range(sessions):
        slug = w.create_session("Crab", f"user{k}", f"bench {k}")
        slugs.append(slug)
        i = 0
        while len(os.listdir(root / "sessions" / slug)) - 1 < per:
            turn(w, slug, rng, i)  # 7 steps per turn
            i += 1
            if i % 40 == 0:
                w.compact(slug, f"summary {i}")
    return slugs


def count_steps(root: Path) -> int:
    return sum(sum(1 for n in os.listdir(d) if n.startswith("step-")) for d in (root / "sessions").iterdir())


def grep(path: Path) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(["grep", "-r", "-c", WORD, str(path)], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode not in (0, 1) or p.stderr:
        raise SystemExit(f"grep failed ({p.returncode}): {p.stderr[:500]}")
    files = len(p.stdout.splitlines())
    return dt, files


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError as e:
        print(f"  (could not drop the page cache: {e.strerror}; raw cold = first run)")
        return False


def mount(root: Path, mp: Path) -> subprocess.Popen:
    mp.mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "crabview", "mount", str(root), str(mp), "--foreground"])
    deadline = time.monotonic() + 30
    while not os.path.ismount(mp):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the mount did not come up")
        time.sleep(0.01)
    return proc


def unmount(proc: subprocess.Popen, mp: Path) -> None:
    if os.path.ismount(mp):
        subprocess.run(["fusermount3", "-u", str(mp)], capture_output=True)
    if os.path.ismount(mp):
        subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--appends", type=int, default=50)
    ap.add_argument("--drop-caches", action="store_true", help="drop the page cache before the raw cold run (root)")
    args = ap.parse_args()
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        raise SystemExit("needs /dev/fuse and fusermount3")
    tmp = Path(tempfile.mkdtemp(prefix="crabview-bench-mount-"))
    root, mp = tmp / "store", tmp / "mnt"
    proc = None
    try:
        t = time.perf_counter()
        slugs = build(root, args.steps, args.sessions)
        n = count_steps(root)
        print(f"store: {n} steps in {len(slugs)} sessions, built in {time.perf_counter() - t:.1f}s ({root})")

        if args.drop_caches:
            drop_caches()
        raw_cold, raw_files = grep(root / "sessions")
        raw_warm = min(grep(root / "sessions")[0] for _ in range(3))

        colds = []
        for _ in range(3):  # cold = a fresh mount each time: nothing decoded yet
            proc = mount(root, mp)
            t_cold, mount_files = grep(mp)
            colds.append(t_cold)
            unmount(proc, mp)
            proc = None
        mount_cold = min(colds)
        proc = mount(root, mp)
        grep(mp)
        mount_warm = min(grep(mp)[0] for _ in range(3))
        print(f"grep -r -c {WORD}: raw   {raw_files:6d} files  cold {raw_cold * 1000:8.1f} ms  warm {raw_warm * 1000:8.1f} ms")
        print(f"grep -r -c {WORD}: mount {mount_files:6d} files  cold {mount_cold * 1000:8.1f} ms  warm {mount_warm * 1000:8.1f} ms")
        print(f"ratio mount/raw:  cold {mount_cold / raw_cold:6.1f}x   warm {mount_warm / raw_warm:6.1f}x")
        sessions_only = min(grep(mp / "sessions" / slugs[0] / "steps")[0] for _ in range(3))
        raw_one = min(grep(root / "sessions" / slugs[0])[0] for _ in range(3))
        print(f"  one session's steps/ (warm): mount {sessions_only * 1000:.1f} ms vs raw {raw_one * 1000:.1f} ms")

        # new-step latency: the daemon's write (tmp + rename), then poll stat on the mount
        w = DaemonWriter(root, atomic=True)
        slug = slugs[-1]
        steps_dir = mp / "sessions" / slug / "steps"
        os.listdir(steps_dir)
        lat = []
        for i in range(args.appends):
            t0 = time.perf_counter()
            path = w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"latency probe {i}")])))
            target = steps_dir / f"{path.name}.entry.json"
            deadline = t0 + 10
            while not os.path.exists(target):
                if time.perf_counter() > deadline:
                    raise SystemExit(f"{target.name} did not appear within 10 s")
                time.sleep(0.0005)
            lat.append(time.perf_counter() - t0)
            time.sleep(random.uniform(0.0, 0.1))  # appends arrive at random moments
        print(
            f"new step visible under steps/: p50 {statistics.median(lat) * 1000:.1f} ms  "
            f"p95 {pct(lat, 0.95) * 1000:.1f} ms  max {max(lat) * 1000:.1f} ms  (n={len(lat)})"
        )
    finally:
        if proc is not None:
            unmount(proc, mp)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
