"""`crabview ship` at its edges, against an OTLP/HTTP receiver that decodes
every request with opentelemetry-proto and can limit request bodies, as
collectors do (the OpenTelemetry Collector's `max_request_body_size`): a
batch refused with 413 is split, never retried as it is forever; sessions
past step-999999; a store that starts empty. The real-engine test
(Arize Phoenix) is tests/test_ship.py."""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from crabview.demo import DaemonWriter, turn

REPO = Path(__file__).resolve().parents[1]
LIMIT = 6_000  # bytes a request may have; one demo turn is ~1.5 KB


class LimitedReceiver:
    def __init__(self) -> None:
        self.turns: collections.Counter = collections.Counter()
        self.refused = 0
        self.accepted = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if n > LIMIT:
                    receiver.refused += 1
                    self.send_response(413)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                req = ExportTraceServiceRequest.FromString(body)
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            if sp.name.startswith("invoke_agent"):
                                a = {kv.key: kv.value.string_value for kv in sp.attributes}
                                receiver.turns[(a["gen_ai.conversation.id"], a["crabview.step"])] += 1
                receiver.accepted += 1
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def __enter__(self) -> "LimitedReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_batch_too_big_for_the_receiver_is_split(tmp_path):
    w = DaemonWriter(tmp_path / "root")
    rng = random.Random(3)
    slugs = [w.create_session("Crab", f"user{k}", "big") for k in range(2)]
    expected = set()
    for i in range(24):
        slug = slugs[i % 2]
        turn(w, slug, rng, i)
        expected.add((slug, max(p for p in os.listdir(w.sessions_dir / slug) if p.startswith("step-"))))
    with LimitedReceiver() as rx:
        proc = subprocess.Popen([sys.executable, "-m", "crabview", "ship", str(w.root), "--otlp-endpoint", rx.endpoint,
                                 "--state", str(tmp_path / "state.json"), "--timeout", "2", "--max-backoff", "1"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while set(rx.turns) != expected and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            err = proc.communicate(timeout=30)[1]
    assert set(rx.turns) == expected, err
    assert all(n == 1 for n in rx.turns.values()), rx.turns  # each turn once
    assert rx.refused >= 1 and "HTTP 413" in err and "splitting" in err, err
    assert "stopped: 24 turn(s)" in err and "Traceback" not in err, err


def test_turns_past_step_999999_are_sent(tmp_path):
    """Past step-999999 names stop sorting by number (`step-1000000` loads
    before `step-999999`), but new steps still get higher numbers: a
    position kept as "the last name sent" compared by name would skip every
    later turn, after a restart and live."""
    w = DaemonWriter(tmp_path / "root")
    rng = random.Random(4)
    slug = w.create_session("Crab", "user", "long")
    w._counters[slug] = 999_990  # a very long session: its next step is 999990
    expected = set()

    def write_turn(i: int) -> None:
        turn(w, slug, rng, i)  # seven steps
        last = max((p for p in os.listdir(w.sessions_dir / slug) if p.startswith("step-")), key=lambda p: int(p[5:]))
        expected.add((slug, last))

    def wait_for(rx: LimitedReceiver, proc: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + 30
        while set(rx.turns) != expected and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert set(rx.turns) == expected, (what, sorted(expected - set(rx.turns)))

    with LimitedReceiver() as rx:
        args = [sys.executable, "-m", "crabview", "ship", str(w.root), "--otlp-endpoint", rx.endpoint,
                "--state", str(tmp_path / "state.json"), "--timeout", "2", "--max-backoff", "1"]
        errs = []
        write_turn(0)  # step-999990 .. step-999996
        for what in ("first run", "after a restart", "live"):
            if what == "after a restart":
                write_turn(1)  # step-999997 .. step-1000003: crosses the line
                write_turn(2)
            proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                wait_for(rx, proc, what)
                if what == "live":
                    write_turn(3)
                    wait_for(rx, proc, what)
            finally:
                proc.send_signal(signal.SIGTERM)
                errs.append(proc.communicate(timeout=30)[1])
    assert len(expected) == 4 and ("step-1000010" in {s for _sl, s in expected})
    assert all(n == 1 for n in rx.turns.values()), rx.turns  # none twice
    assert [int(x) for e in errs for x in re.findall(r"stopped: (\d+) turn", e)] == [1, 2, 1], errs


def test_an_empty_store_is_followed_and_says_so(tmp_path):
    """A store with nothing in it yet still gets the "following" line (the
    user learns ship runs and where its state is), then its first turns."""
    w = DaemonWriter(tmp_path / "root")
    with LimitedReceiver() as rx:
        proc = subprocess.Popen([sys.executable, "-m", "crabview", "ship", str(w.root), "--otlp-endpoint", rx.endpoint,
                                 "--state", str(tmp_path / "state.json")],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 15
            while not lines and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lines, "ship said nothing within 15 s"
            line = lines[0]
            assert "following 0 session(s)" in line and "0 turn(s) to send" in line and str(tmp_path / "state.json") in line, line
            slug = w.create_session("Crab", "user", "first")
            turn(w, slug, random.Random(2), 0)
            deadline = time.monotonic() + 30
            while len(rx.turns) < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            reader.join(10)
    err = "".join(lines)
    assert list(rx.turns.values()) == [1] and "stopped: 1 turn(s)" in err, err


def test_a_batch_over_the_exporters_own_cap_is_split(tmp_path):
    """The SDK exporter drops a request over its max_request_size (64 MiB by
    default) before sending it, and answers only FAILURE: ship learns why
    from the exporter's log record and splits the batch, as for a 413."""
    import asyncio
    import io

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from crabview.data.otlp import store_identity
    from crabview.data.ship import Shipper, ShipState, witness_session
    from crabview.store.store import Store

    w = DaemonWriter(tmp_path / "root")
    rng = random.Random(5)
    slug = w.create_session("Crab", "user", "cap")
    for i in range(16):
        turn(w, slug, rng, i)
    store = Store.open(w.root)
    with LimitedReceiver() as rx:
        session = witness_session()
        exporter = OTLPSpanExporter(endpoint=rx.endpoint, timeout=5, session=session, max_request_size=LIMIT)
        exporter.crabview_witness = session
        err = io.StringIO()
        shipper = Shipper(store, rx.endpoint, ShipState(tmp_path / "state.json", store_identity(store)), exporter, err, backoff=0.05)
        shipper.sessions = {s.slug: s for s in store.iter_sessions()}
        asyncio.run(asyncio.wait_for(shipper.send(slug), 30))
    assert len(rx.turns) == 16 and set(rx.turns.values()) == {1} and rx.refused == 0
    assert "Dropping span batch" in err.getvalue() and "splitting" in err.getvalue(), err.getvalue()


def test_a_second_ship_on_the_same_state_is_refused(tmp_path):
    """Two ships on one state file would both send every new turn: the
    second stops at once with one line, and the first goes on alone."""
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "twice")
    rng = random.Random(6)
    turn(w, slug, rng, 0)
    with LimitedReceiver() as rx:
        args = [sys.executable, "-m", "crabview", "ship", str(w.root), "--otlp-endpoint", rx.endpoint,
                "--state", str(tmp_path / "state" / "ship.json")]
        first = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while len(rx.turns) < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            second = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=30)
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "another crabview ship" in lines[0], second.stderr
            turn(w, slug, rng, 1)
            while len(rx.turns) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            first.send_signal(signal.SIGTERM)
            err = first.communicate(timeout=30)[1]
    assert len(rx.turns) == 2 and set(rx.turns.values()) == {1}, (rx.turns, err)
    assert sorted(os.listdir(w.root)) == ["sessions"]
