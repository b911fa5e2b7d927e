"""A real Arize Phoenix on 127.0.0.1 for the ship test and benchmark: start,
stop, restart on the same working dir, and its spans read back over its
REST API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Phoenix:
    def __init__(self, python: str, workdir: Path):
        self.python = python
        self.workdir = workdir
        self.port = _free_port()
        self.grpc_port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.log = open(workdir / "phoenix.log", "ab")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> None:
        env = {**os.environ, "PHOENIX_WORKING_DIR": str(self.workdir), "PHOENIX_HOST": "127.0.0.1",
               "PHOENIX_PORT": str(self.port), "PHOENIX_GRPC_PORT": str(self.grpc_port), "PHOENIX_TELEMETRY_ENABLED": "false"}
        self.proc = subprocess.Popen([self.python, str(REPO / "tests" / "phoenix_loopback.py"), "serve"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"phoenix exited: {(self.workdir / 'phoenix.log').read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError("phoenix did not come up within 180 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def spans(self) -> list[dict]:
        out, cursor = [], None
        for _ in range(100):
            url = f"http://127.0.0.1:{self.port}/v1/projects/default/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    d = json.load(r)
            except urllib.error.HTTPError as e:
                if e.code == 404:  # no project before the first span
                    return []
                raise
            out.extend(d["data"])
            cursor = d.get("next_cursor")
            if not cursor:
                break
        return out


def wait_until(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout}s: {what}")
