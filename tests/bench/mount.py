"""Benchmark: ``grep -r`` over a mounted 10k-step store against the raw files, and step latency.

Run: python tests/bench/mount.py [--steps 10000] [--sessions 5] [--appends 50]
     python tests/bench/mount.py --big 100000 [--rounds 2] [--code DIR]

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

With --big N, instead: one session of N steps (the load benchmark's), and
per round, alternating, the floor and the mount:

- floor: ``crabview export --format md`` and ``--format jsonl --replay``
  of the session to /dev/null, each in its own process (load included),
  wall time and peak RSS;
- mount: a fresh ``crabview mount --foreground``; a stat of meta.json
  (the load), then transcript.md and replay.jsonl read through the mount
  in 128 KiB reads (first stat, which sizes the file, included), and 50
  preads at random offsets with the page cache dropped before each; the
  mount process's RSS after the load and its peak (VmHWM) at the end.

Ratios: mount read / export time (target: near 1x, the file is rendered
twice, once to size it), peak RSS after reading / RSS after the load
(target: near 1x, the renderings are not kept). --code DIR puts DIR first
on PYTHONPATH of the mount and the exports (an older tree, to compare).

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def mount(root: Path, mp: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    mp.mkdir(exist_ok=True)
    # cwd "/": "-m" puts the working directory first on sys.path, before PYTHONPATH (--code)
    proc = subprocess.Popen([sys.executable, "-m", "crabview", "mount", str(root), str(mp), "--foreground"], env=env, cwd="/")
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


def proc_status(pid: int, field: str) -> int:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"no {field} for pid {pid}")


def read_all(path: Path, chunk: int = 131072) -> int:
    fd = os.open(path, os.O_RDONLY)
    n = 0
    try:
        while True:
            b = os.read(fd, chunk)
            if not b:
                return n
            n += len(b)
    finally:
        os.close(fd)


def random_preads(path: Path, count: int, rng: random.Random) -> float:
    """Mean seconds of one 128 KiB pread at a random offset, page cache dropped first."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    total = 0.0
    try:
        for _ in range(count):
            off = rng.randrange(max(1, size))
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            t = time.perf_counter()
            os.pread(fd, 131072, off)
            total += time.perf_counter() - t
    finally:
        os.close(fd)
    return total / count


def big_bench(args: argparse.Namespace) -> None:
    from stream import FLOOR, measure  # noqa: PLC0415  (tests/bench is this script's directory)
    from load import build_big_session  # noqa: PLC0415

    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = os.path.abspath(args.code) + os.pathsep + env.get("PYTHONPATH", "")
    tmp = Path(tempfile.mkdtemp(prefix="crabview-bench-mount-big-"))
    root, mp = tmp / "store", tmp / "mnt"
    proc = None
    cli = [sys.executable, "-m", "crabview", "export"]
    files = {"transcript.md": ["--format", "md"], "replay.jsonl": ["--format", "jsonl", "--replay"]}
    rows: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    try:
        t = time.perf_counter()
        slug = build_big_session(root, args.big)
        print(f"session: {args.big:,} steps built in {time.perf_counter() - t:.1f}s ({root})" + (f"; code from {args.code}" if args.code else ""))
        rng = random.Random(3)
        for _round in range(args.rounds):
            wall, rss = measure([sys.executable, "-c", FLOOR, str(root), slug], env)
            note("load s", wall)
            note("load rss", rss)
            for name, fmt in files.items():
                wall, rss = measure([*cli, slug, "--root", str(root), *fmt], env)
                note(f"export {name} s", wall)
                note(f"export {name} rss", rss)
            proc = mount(root, mp, env)
            base = mp / "sessions" / slug
            t = time.perf_counter()
            (base / "meta.json").stat()
            note("mount load s", time.perf_counter() - t)
            loaded = proc_status(proc.pid, "VmRSS")
            note("mount rss after load", loaded)
            for name in files:
                t = time.perf_counter()
                size = (base / name).stat().st_size
                note(f"mount {name} stat s", time.perf_counter() - t)
                got = read_all(base / name)
                note(f"mount {name} s", time.perf_counter() - t)
                if got != size:
                    raise SystemExit(f"{name}: read {got} bytes, st_size {size}")
                note(f"{name} bytes", size)
                note(f"mount {name} pread s", random_preads(base / name, 50, rng))
            note("mount rss peak", proc_status(proc.pid, "VmHWM"))
            note("mount rss end", proc_status(proc.pid, "VmRSS"))
            unmount(proc, mp)
            proc = None
        med = {k: statistics.median(v) for k, v in rows.items()}
        mb = 1 << 20
        print(
            f"floor: a process that loads the session {med['load s']:.2f}s (peak RSS {med['load rss'] / mb:.0f} MB); "
            f"the mount's load {med['mount load s']:.2f}s"
        )
        for name in files:
            e, mt, st = med[f"export {name} s"], med[f"mount {name} s"], med[f"mount {name} stat s"]
            # the export's own rendering: its process minus the load floor of the same round
            renders = [max(1e-3, a - b) for a, b in zip(rows[f"export {name} s"], rows["load s"])]
            ratios = [a / b for a, b in zip(rows[f"mount {name} s"], renders)]
            print(
                f"{name:14s} {med[f'{name} bytes'] / mb:7.1f} MB: export {e:6.2f}s = load + {statistics.median(renders):.2f}s "
                f"(peak RSS {med[f'export {name} rss'] / mb:.0f} MB); mount stat {st:6.2f}s, stat + read {mt:6.2f}s "
                f"= {statistics.median(ratios):.2f}x the export's rendering (spread {min(ratios):.2f}-{max(ratios):.2f}); "
                f"random 128 KiB pread {med[f'mount {name} pread s'] * 1000:.1f} ms"
            )
        print(
            f"mount RSS: after load {med['mount rss after load'] / mb:.0f} MB, peak after reading both "
            f"{med['mount rss peak'] / mb:.0f} MB ({med['mount rss peak'] / med['mount rss after load']:.2f}x), "
            f"at the end {med['mount rss end'] / mb:.0f} MB"
        )
    finally:
        if proc is not None:
            unmount(proc, mp)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--appends", type=int, default=50)
    ap.add_argument("--drop-caches", action="store_true", help="drop the page cache before the raw cold run (root)")
    ap.add_argument("--big", type=int, default=0, metavar="N", help="instead: one N-step session's transcript.md and replay.jsonl")
    ap.add_argument("--rounds", type=int, default=2, help="--big: rounds (median)")
    ap.add_argument("--code", help="--big: DIR first on PYTHONPATH of the mount and exports")
    args = ap.parse_args()
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        raise SystemExit("needs /dev/fuse and fusermount3")
    if args.big:
        big_bench(args)
        return
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
