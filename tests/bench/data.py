"""Benchmark: `crabview sql` table build and `ship` throughput.

Run: python tests/bench/data.py [--sessions 10000] [--turns 1]
Floors measured in the same run: a plain load of every session (what any
command over the whole store pays), and for ship an OTLP/HTTP sink on
127.0.0.1 that accepts and drops (so the figure is ship's own cost).
Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.server
import io
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.data.otlp import store_identity  # noqa: E402
from crabview.data.ship import Shipper, ShipState, make_exporter  # noqa: E402
from crabview.data.sql import connect  # noqa: E402
from crabview.data.tables import build_tables  # noqa: E402
from crabview.demo import DaemonWriter, turn  # noqa: E402
from crabview.store.store import Store  # noqa: E402


def best_of(fn, runs: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def build_store(root: Path, sessions: int, turns: int) -> None:
    w = DaemonWriter(root, atomic=False)
    rng = random.Random(1)
    for k in range(sessions):
        slug = w.create_session("Crab", f"user{k % 97}", f"bench {k}")
        for i in range(turns):
            turn(w, slug, rng, k + i)


class Sink(http.server.BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Sink.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--turns", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        t = time.perf_counter()
        build_store(root, args.sessions, args.turns)
        print(f"store: {args.sessions:,} sessions x {args.turns} turn(s) written in {time.perf_counter() - t:.1f}s")
        store = Store.open(root)

        floor, loaded = best_of(lambda: sum(len(s.steps) for s in store.iter_sessions()))
        print(f"floor, plain load of every session: {floor * 1000:.0f} ms ({loaded:,} step files)")
        build, tables = best_of(lambda: build_tables([(str(root), store)]))
        rows = sum(tables.rows(t) for t in tables.columns)
        load, _con = best_of(lambda: connect(tables))
        total = build + load
        print(f"tables from verdicts (load included): {build * 1000:.0f} ms -> {build / floor:.2f}x the floor")
        print(f"DuckDB load of {rows:,} rows: {load * 1000:.0f} ms")
        print(f"sql tables build, total: {total * 1000:.0f} ms -> {total / floor:.2f}x the plain load")

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        identity = store_identity(store)
        shipper = Shipper(store, endpoint, ShipState(Path(tmp) / "state.json", identity), make_exporter(endpoint, 5), io.StringIO())
        shipper.sessions = {s.slug: s for s in store.iter_sessions()}

        async def send_all() -> None:
            await shipper.send(*sorted(shipper.sessions))

        t = time.perf_counter()
        asyncio.run(send_all())
        took = time.perf_counter() - t
        server.shutdown()
        print(f"ship: {shipper.turns_sent:,} turns ({shipper.spans_sent:,} spans, {Sink.requests:,} requests) in {took:.2f}s "
              f"-> {shipper.turns_sent / took:,.0f} turns/s (state rewritten after each batch)")


if __name__ == "__main__":
    main()
