"""`crabview ship` against a real OTLP receiver (Arize Phoenix, started by
the test on 127.0.0.1): every finished turn arrives exactly once, while
following live, across a restart of ship and across an outage of the
receiver. Phoenix keeps one span per span id, so "once" is checked on both
ends: Phoenix holds exactly the expected spans, and the turns ship reports
sent over all its runs add up to the number of turns (no resend)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crabview.demo import DaemonWriter, turn
from crabview.store import models as m
from support.phoenix import Phoenix, wait_until

REPO = Path(__file__).resolve().parents[1]
RECEIVER_PY = os.environ.get("CRABVIEW_PHOENIX_PYTHON", sys.executable)


def _phoenix_available() -> bool:
    # found, not imported: importing Phoenix takes ~15 s, and starting it
    # (which the test does anyway) fails loudly if it cannot import
    probe = "import importlib.util, sys; sys.exit(not all(importlib.util.find_spec(m) for m in ('phoenix', 'grpc')))"
    if RECEIVER_PY == sys.executable:
        import importlib.util

        return all(importlib.util.find_spec(m) for m in ("phoenix", "grpc"))
    return subprocess.run([RECEIVER_PY, "-c", probe], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def phoenix_python() -> str:
    if not _phoenix_available():
        msg = f"Arize Phoenix is not importable by {RECEIVER_PY} (pip install -e '.[data-test]', or set CRABVIEW_PHOENIX_PYTHON)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return RECEIVER_PY


class Ship:
    def __init__(self, root: Path, endpoint: str, state: Path, log_dir: Path):
        self.args = [sys.executable, "-m", "crabview", "ship", str(root), "--otlp-endpoint", endpoint,
                     "--state", str(state), "--timeout", "1", "--max-backoff", "1"]
        self.log_dir = log_dir
        self.runs = 0
        self.proc: subprocess.Popen | None = None
        self.err_path: Path | None = None

    def start(self) -> None:
        self.runs += 1
        self.err_path = self.log_dir / f"ship-{self.runs}.err"
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(self.err_path, "wb"))

    def stderr(self) -> str:
        return self.err_path.read_text() if self.err_path else ""

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(60) == 0, self.stderr()
        return self.stderr()

    def crash(self) -> None:
        self.proc.kill()  # SIGKILL: no goodbye, no last state write
        self.proc.wait(60)


def test_every_turn_arrives_once_across_restart_and_outage(phoenix_python, tmp_path):
    w = DaemonWriter(tmp_path / "root")
    rng = random.Random(5)
    slugs = [w.create_session("Crab", f"user{k}", f"s{k}") for k in range(3)]
    expected: set[tuple[str, str]] = set()  # (slug, done step)
    n = 0

    def write_turns(count: int) -> None:
        nonlocal n
        for _ in range(count):
            slug = slugs[n % len(slugs)]
            turn(w, slug, rng, n)
            n += 1
            done = max(p for p in os.listdir(w.sessions_dir / slug) if p.startswith("step-"))
            expected.add((slug, done))

    write_turns(6)
    # a turn still in flight (no done yet) is not sent
    w.append(slugs[0], m.HistoryEntry(message=m.Message("user", [m.TextBlock("still thinking")])))

    phoenix = Phoenix(phoenix_python, tmp_path)
    state = tmp_path / "state" / "ship.json"
    ship = Ship(w.root, phoenix.endpoint, state, tmp_path)
    try:
        phoenix.start()

        def arrived() -> set[tuple[str, str]]:
            return {
                (s["attributes"]["gen_ai.conversation.id"], s["attributes"]["crabview.step"])
                for s in phoenix.spans() if s["name"].startswith("invoke_agent")
            }

        ship.start()
        wait_until(lambda: arrived() == expected, 60, "the store's turns in phoenix")
        write_turns(3)  # live
        wait_until(lambda: arrived() == expected, 60, "live turns in phoenix")
        err1 = ship.stop()

        write_turns(3)  # while ship is down
        ship.start()
        wait_until(lambda: arrived() == expected, 60, "turns written while ship was down")
        err_restart = ship.stop()
        sent_by_clean_runs = len(expected)

        # kill -9 while turns land: the restart sends exactly what the state
        # file does not cover (no resend), and everything arrives (no skip)
        ship.start()
        wait_until(lambda: "following" in ship.stderr(), 30, "ship following")
        write_turns(4)
        time.sleep(0.2)
        ship.crash()
        sent_before = json.loads(state.read_text())["sessions"]
        covered = {(slug, done) for slug, done in expected if done <= sent_before.get(slug, "")}
        ship.start()
        wait_until(lambda: "following" in ship.stderr(), 30, "ship following after kill -9")
        announced = int(re.search(r"; (\d+) turn\(s\) to send", ship.stderr()).group(1))
        assert announced == len(expected - covered), (announced, len(expected), len(covered))
        wait_until(lambda: arrived() == expected, 60, "turns after kill -9 and restart")

        phoenix.stop()  # the receiver goes away
        write_turns(2)
        wait_until(lambda: "Connection refused" in ship.stderr(), 30, "ship saying why it cannot send")
        failures = [ln for ln in ship.stderr().splitlines() if "cannot send to" in ln]
        assert failures and all(re.search(r"\((Connection refused|[^()]*closed by the endpoint)\); \d+ turn\(s\) waiting", ln) for ln in failures), failures
        phoenix.start()  # same working dir: what it had is kept
        wait_until(lambda: arrived() == expected, 90, "turns written during the outage")
        assert "accepts again" in ship.stderr()
        err2 = ship.stop()

        spans = phoenix.spans()
    finally:
        if ship.proc is not None and ship.proc.poll() is None:
            ship.proc.kill()
        phoenix.stop()

    agents = [s for s in spans if s["name"].startswith("invoke_agent")]
    tools = [s for s in spans if s["name"].startswith("execute_tool")]
    assert len(agents) == len(expected) == 18
    assert len(tools) == 18  # one tool call per demo turn
    assert {t["parent_id"] for t in tools} == {a["context"]["span_id"] for a in agents}
    sent = [int(x) for x in re.findall(r"stopped: (\d+) turn\(s\)", err1 + err_restart)]
    assert len(sent) == 2 and sum(sent) == sent_by_clean_runs, (err1, err_restart)  # each turn once
    after = [int(x) for x in re.findall(r"stopped: (\d+) turn\(s\)", err2)]
    assert after == [len(expected) - len(covered)], err2  # after it: exactly the rest
    assert json.loads(state.read_text())["store"] == str(w.root.resolve())


def test_state_file_inside_store_is_refused(tmp_path):
    w = DaemonWriter(tmp_path / "root")
    w.create_session("Crab", "user", "x")
    before = sorted(os.listdir(w.root))
    r = subprocess.run([sys.executable, "-m", "crabview", "ship", str(w.root), "--otlp-endpoint", "http://127.0.0.1:9/v1/traces",
                        "--state", str(w.root / "ship.json")], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and "refusing to keep the state inside the store" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(w.root)) == before


def test_default_state_is_under_xdg_state_home(tmp_path):
    from crabview.data.ship import default_state_path

    os.environ["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    try:
        p = default_state_path("/some/store")
    finally:
        del os.environ["XDG_STATE_HOME"]
    assert p.parent == tmp_path / "xdg" / "crabview" and p.name.startswith("ship-")
    if "XDG_STATE_HOME" not in os.environ:
        assert default_state_path("/some/store").parent == Path.home() / ".local" / "state" / "crabview"
    assert default_state_path("/some/store").name == p.name != default_state_path("/other/store").name


def test_unwritable_state_file_stops_before_sending(tmp_path):
    """The position must be writable before anything is sent: otherwise the
    first accepted batch could never be recorded and would be sent again."""
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "x")
    turn(w, slug, random.Random(1), 0)
    # reading finds nothing (a fresh start), but the directory cannot be made
    unwritable = Path("/proc") / f"crabview-no-such-{os.getpid()}" / "ship.json"
    r = subprocess.run([sys.executable, "-m", "crabview", "ship", str(w.root), "--otlp-endpoint", "http://127.0.0.1:9/v1/traces",
                        "--state", str(unwritable)], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write the state file" in lines[0] and "Traceback" not in r.stderr, r.stderr
