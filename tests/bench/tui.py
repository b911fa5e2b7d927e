"""Benchmark: the browser on a 100k-step session.

- time to first paint: app start → the timeline's rows set and painted
  (headless ``run_test``), for a session of ``--steps`` step files;
- rename → visible row latency, p50/p95: a daemon-like writer (tmp +
  rename) appends while the app runs headless with its watcher; measured
  until the row is in the timeline, and until its line is rendered;
- memory of the loaded session (Session + the timeline's rows) against the
  raw bytes on disk (tracemalloc);
- content search (tui/search.py): the first search (reads every file),
  repeated searches (bytes cached) for a rare, a common and a regex
  query, and a search across sessions, each against a floor measured in
  the same run: one bytes regex over the same in-memory file contents
  (what no search of every file's content can beat), and reading them.

- progressive open (``--open-steps``, default 1,000,000, built on
  /dev/shm when there is one): app start → the first step rows rendered,
  and → the whole session shown, for that session and a 10-step one in
  the same run, against the floor of an exact first paint: one
  ``os.listdir`` of the big directory (the end of the load order is known
  only once every name is).

Prints figures; asserts nothing about time.

Run: python tests/bench/tui.py [--steps 100000] [--appends 200] [--open-steps 1000000] [--only-open]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.demo import DaemonWriter, turn  # noqa: E402
from crabview.store import models as m  # noqa: E402
from crabview.store.store import Store  # noqa: E402
from crabview.tui.app import make_app  # noqa: E402
from crabview.tui.model import TimelineModel  # noqa: E402
from crabview.tui.search import ContentCache, parse_query, search_steps, search_store  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def build(root: Path, steps: int) -> str:
    w = DaemonWriter(root, atomic=False)
    slug = w.create_session("Crab", "user", "benchmark")
    rng = random.Random(1)
    i = 0
    written = 0
    while written < steps:
        turn(w, slug, rng, i)
        i += 1
        written += 7
        if i % 500 == 0:
            w.compact(slug, f"summary {i}")
            written += 1
    return slug


def raw_bytes(d: Path) -> int:
    return sum(e.stat().st_size for e in os.scandir(d) if e.name.startswith("step-"))


async def first_paint(root: Path, slug: str) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    app = make_app(Store.open(root), watch=False, select=slug)
    async with app.run_test(size=(160, 50)) as pilot:
        while app.model is None:
            await asyncio.sleep(0.002)
        t_rows = time.perf_counter() - t0
        await pilot.pause()  # one screen refresh with the rows
        t_paint = time.perf_counter() - t0
        return t_rows, t_paint, app.timeline.row_count


async def latency(root: Path, slug: str, appends: int, interval: float) -> tuple[list[float], list[float]]:
    app = make_app(Store.open(root), watch=True, select=slug)
    w = DaemonWriter(root)
    out: list[float] = []
    rows_in: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while app.model is None or app.watcher_mode == "starting":
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        tl = app.timeline
        target: list[int] = [-1]
        painted: list[float | None] = [None]
        orig = tl.render_line

        def render_line(y: int):  # note when the new row is first rendered on screen
            if y + int(tl.scroll_offset.y) == target[0] and painted[0] is None:
                painted[0] = time.perf_counter()
            return orig(y)

        tl.render_line = render_line  # type: ignore[method-assign]
        for k in range(appends):
            n = tl.row_count
            target[0], painted[0] = n, None
            w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(f"bench {k}")])))
            t0 = time.perf_counter()
            deadline = t0 + 5
            while tl.row_count <= n and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            rows_in.append(time.perf_counter() - t0)
            while painted[0] is None and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            out.append((painted[0] or time.perf_counter()) - t0)
            await pilot.pause()
            await asyncio.sleep(interval)
    return rows_in, out


async def open_times(root: Path, slug: str, watch: bool) -> tuple[float, float]:
    """Seconds from app start to the first step rows rendered, and to the whole session shown."""
    from crabview.tui.widgets.timeline import Timeline

    first: list[float | None] = [None]
    orig = Timeline.render_line

    def render_line(self, y: int):  # the first time a step row reaches the screen
        if first[0] is None and self.model is not None and int(self.scroll_offset.y) + y >= 1 and len(self.model.rows) > 1:
            first[0] = time.perf_counter()
        return orig(self, y)

    Timeline.render_line = render_line  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        app = make_app(Store.open(root), watch=watch, select=slug)
        async with app.run_test(size=(160, 50)) as pilot:
            while first[0] is None:
                await asyncio.sleep(0.001)
            while app.model is None or app.loading is not None or app.model.partial is not None:
                await asyncio.sleep(0.005)
            await pilot.pause()
            return first[0] - t0, time.perf_counter() - t0
    finally:
        Timeline.render_line = orig  # type: ignore[method-assign]


def open_figures(steps: int, rounds: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from load import build_big_session  # noqa: E402

    where = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="crabview-bench-open-", dir=where) as tmp:
        t = time.perf_counter()
        small_root, big_root = Path(tmp) / "small", Path(tmp) / "big"
        small = build(small_root, 10)
        big = build_big_session(big_root, steps)
        bdir = big_root / "sessions" / big
        print(f"built a {steps:,}-step session in {tmp} in {time.perf_counter() - t:.1f} s; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        Store.open(big_root).load_session(big)  # the page cache as a second launch sees it
        for watch in (False, True):
            got: dict[str, list[tuple[float, float]]] = {"small": [], "big": []}
            floors: list[float] = []
            for _ in range(rounds):
                for _ in range(3):  # the small paint swings most (100-350 ms here): more samples
                    got["small"].append(asyncio.run(open_times(small_root, small, watch)))
                t = time.perf_counter()
                os.listdir(bdir)
                floors.append(time.perf_counter() - t)
                got["big"].append(asyncio.run(open_times(big_root, big, watch)))
            s_first = statistics.median(x[0] for x in got["small"])
            b_first = statistics.median(x[0] for x in got["big"])
            b_whole = statistics.median(x[1] for x in got["big"])
            floor = statistics.median(floors)
            label = "watching" if watch else "not watching"
            print(
                f"open, {label}: first rows on screen: 10 steps {s_first * 1000:.0f} ms, {steps:,} steps {b_first * 1000:.0f} ms "
                f"= {b_first / s_first:.2f}x (target 1.5x); floor: the 10-step paint + one listing of the big directory "
                f"({floor * 1000:.0f} ms) = {(s_first + floor) / s_first:.2f}x; whole session shown {b_whole:.1f} s"
            )


def memory(root: Path, slug: str) -> tuple[int, int]:
    store = Store.open(root)
    gc.collect()
    tracemalloc.start()
    s = store.load_session(slug)
    sess = tracemalloc.get_traced_memory()[0]
    model = TimelineModel(s)
    total = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del model, s
    return sess, total


def search_figures(root: Path, slug: str) -> None:
    import re

    d = root / "sessions" / slug
    names = sorted(n for n in os.listdir(d) if n.startswith("step-"))
    per100k = 100_000 / len(names)
    t = time.perf_counter()
    blobs = [(d / n).read_bytes() for n in names]
    t_read = time.perf_counter() - t
    pat = re.compile(rb"arm64", re.IGNORECASE)
    floor = min(_timed(lambda: [b for b in blobs if pat.search(b)]) for _ in range(3))
    print(f"search floor: read every file {t_read * 1000:.0f} ms; one bytes regex over the contents {floor * 1000:.0f} ms")
    cache = ContentCache(str(d))
    q = parse_query("arm64")
    first = search_steps(q, names, cache)
    print(f"search 'arm64', first (reads the files): {first.seconds * 1000:.0f} ms, {len(first.indices):,} matches")
    for text in ("arm64", "zzz-no-such-text", "disk usage", "re:arm6[4]|aarch"):
        q = parse_query(text)
        runs = [search_steps(q, names, cache) for _ in range(3)]
        best = min(r.seconds for r in runs)
        print(
            f"search {text!r}, cached: {best * 1000:.0f} ms ({best * per100k * 1000:.0f} ms per 100k steps), "
            f"{len(runs[0].indices):,} matches, {runs[0].decoded:,} decoded; {best / floor:.1f}x the floor"
        )
    t = time.perf_counter()
    hits, total, _ = search_store(parse_query("arm64"), [(slug, str(d))], 500)
    t_all = time.perf_counter() - t
    print(f"search across sessions 'arm64' (reads every file): {t_all * 1000:.0f} ms, {total:,} matches; {t_all / t_read:.1f}x reading the files")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--appends", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--open-steps", type=int, default=1_000_000)
    ap.add_argument("--open-rounds", type=int, default=3)
    ap.add_argument("--only-open", action="store_true", help="only the progressive open figures")
    a = ap.parse_args()
    open_figures(a.open_steps, a.open_rounds)
    if a.only_open:
        return
    with tempfile.TemporaryDirectory(prefix="crabview-bench-tui-") as tmp:
        root = Path(tmp) / "root"
        t = time.perf_counter()
        slug = build(root, a.steps)
        d = root / "sessions" / slug
        nfiles = sum(1 for e in os.scandir(d) if e.name.startswith("step-"))
        raw = raw_bytes(d)
        print(f"built {nfiles:,} step files ({raw / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
        # warm the page cache like a second launch would see it
        Store.open(root).load_session(slug)
        t_rows, t_paint, rows = asyncio.run(first_paint(root, slug))
        print(f"first paint: rows set {t_rows * 1000:.0f} ms, painted {t_paint * 1000:.0f} ms ({rows:,} rows)")
        sess, total = memory(root, slug)
        print(
            f"memory: session {sess / 1e6:.1f} MB, + timeline rows {total / 1e6:.1f} MB; raw bytes {raw / 1e6:.1f} MB "
            f"→ {sess / raw:.2f}x (session), {total / raw:.2f}x (with the view model)"
        )
        search_figures(root, slug)
        rows_in, lat = asyncio.run(latency(root, slug, a.appends, a.interval))
        for what, xs in (("row in the timeline", rows_in), ("row rendered on screen", lat)):
            print(
                f"rename → {what} ({len(xs)} appends into the {rows:,}-row session): "
                f"p50 {statistics.median(xs) * 1000:.1f} ms, p95 {pct(xs, 95) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
