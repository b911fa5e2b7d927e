"""Benchmark: `ship` throughput to a real Arize Phoenix on 127.0.0.1.

Run: python tests/bench/ship_phoenix.py [--sessions 2000] [--turns 5]
Floor measured in the same run: the same turns shipped to an OTLP/HTTP sink
that accepts and drops (ship's own cost, bench/data.py's figure). Then the
same store is shipped to Phoenix: "accepted" is when Phoenix has answered
every request (what ship's position records), "stored" when Phoenix's REST
API lists every span. Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import io
import sys
import tempfile
import threading
import time
import urllib.request
import json
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parents[1]))

from bench.data import Sink, build_store  # noqa: E402
from crabview.data.otlp import store_identity  # noqa: E402
from crabview.data.ship import Shipper, ShipState, make_exporter  # noqa: E402
from crabview.store.store import Store  # noqa: E402
from support.phoenix import Phoenix  # noqa: E402


def ship_all(store: Store, endpoint: str, state: Path) -> tuple[float, Shipper]:
    shipper = Shipper(store, endpoint, ShipState(state, store_identity(store)), make_exporter(endpoint, 30), io.StringIO())
    shipper.sessions = {s.slug: s for s in store.iter_sessions()}

    async def send_all() -> None:
        await shipper.send(*sorted(shipper.sessions))

    t = time.perf_counter()
    asyncio.run(send_all())
    return time.perf_counter() - t, shipper


def phoenix_span_count(port: int) -> int:
    """Spans Phoenix lists (its REST API pages 1000 at a time)."""
    n, cursor = 0, None
    while True:
        url = f"http://127.0.0.1:{port}/v1/projects/default/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                d = json.load(r)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return 0
            raise
        n += len(d["data"])
        cursor = d.get("next_cursor")
        if not cursor:
            return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=2_000)
    ap.add_argument("--turns", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "root"
        build_store(root, args.sessions, args.turns)
        store = Store.open(root)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        floor, sh = ship_all(store, f"http://127.0.0.1:{server.server_address[1]}/v1/traces", tmp / "sink-state.json")
        server.shutdown()
        turns = sh.turns_sent
        print(f"floor, ship to a drop sink: {turns:,} turns ({sh.spans_sent:,} spans) in {floor:.2f}s -> {turns / floor:,.0f} turns/s")

        phoenix = Phoenix(sys.executable, tmp)
        phoenix.start()
        try:
            t0 = time.perf_counter()
            accepted, sh = ship_all(store, phoenix.endpoint, tmp / "phoenix-state.json")
            assert sh.turns_sent == turns and sh.failures == 0, (sh.turns_sent, sh.failures)
            # poll seldom: listing spans competes with the ingestion measured
            while (n := phoenix_span_count(phoenix.port)) < sh.spans_sent:
                print(f"  {time.perf_counter() - t0:6.1f}s: {n:,} of {sh.spans_sent:,} spans stored", flush=True)
                time.sleep(5)
            stored = time.perf_counter() - t0
        finally:
            phoenix.stop()
        print(f"ship to Phoenix, accepted: {turns:,} turns in {accepted:.2f}s -> {turns / accepted:,.0f} turns/s "
              f"({accepted / floor:.1f}x the sink)")
        print(f"ship to Phoenix, stored (listed by its API): {stored:.2f}s -> {turns / stored:,.0f} turns/s")


if __name__ == "__main__":
    main()
