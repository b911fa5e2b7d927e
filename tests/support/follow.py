"""Followers for the live tests: a watcher in its own thread, ``tail -f`` as a process.

Every wait polls with a deadline; nothing sleeps blind.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from crabview.store.layout import resolve
from crabview.store.watch import StepsAdded, StepsChanged, StoreWatcher


class Collector:
    """Runs a StoreWatcher in its own thread + event loop and keeps every event."""

    def __init__(self, root: Path, poll: bool = False, **kw: Any):
        kw.setdefault("poll_interval", 0.05)
        self.watcher = StoreWatcher(resolve(root), poll=poll, **kw)
        self.events: list = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            agen = self.watcher.events()
            try:
                async for batch in agen:
                    self.events.extend(batch)
            finally:
                await agen.aclose()

        try:
            asyncio.run(main())
        except BaseException as e:  # pragma: no cover - surfaced by the test
            self.error = e

    def __enter__(self) -> "Collector":
        self.thread.start()
        ready = getattr(self.watcher, "ready", None)
        if ready is None:  # a watcher without a ready signal: give it its start-up time
            time.sleep(0.3)
        else:
            assert ready.wait(10), "the watcher did not start"
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: Any) -> None:
        self.watcher.stop()
        self.thread.join(5)
        assert self.error is None, self.error

    def of(self, kind: type, slug: str) -> list[str]:
        out: list[str] = []
        for e in list(self.events):
            if isinstance(e, kind) and e.slug == slug:
                out.extend(e.names)
        return out

    def added(self, slug: str) -> list[str]:
        return self.of(StepsAdded, slug)

    def changed(self, slug: str) -> list[str]:
        return self.of(StepsChanged, slug)

    def wait(self, pred: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = pred()
            if got:
                return got
            time.sleep(0.005)
        raise AssertionError(f"timed out; events so far: {self.events[-20:]}")


def drop_dac_powers() -> None:
    """As root, permission bits bind only without CAP_DAC_OVERRIDE/READ_SEARCH (gone after exec)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP


def spawn_tail(args: list[str], env: dict[str, str] | None = None, bound_by_permissions: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crabview", "tail", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        preexec_fn=drop_dac_powers if bound_by_permissions and os.geteuid() == 0 else None,
    )


class LineReader:
    def __init__(self, stream: Any):
        self.lines: list[str] = []
        self.t = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.t.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pred: Callable[[list[str]], Any], timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.lines):
                return self.lines
            time.sleep(0.01)
        raise AssertionError(f"tail output so far: {self.lines[-10:]}")


class Tail:
    """``crabview tail -f`` on a target, its stdout and stderr read as lines."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, bound_by_permissions: bool = False):
        self.proc = spawn_tail(args, env, bound_by_permissions)
        self.out = LineReader(self.proc.stdout)
        self.err = LineReader(self.proc.stderr)
        self.err.wait_for(lambda ls: any("following" in x for x in ls), timeout=30)

    def records(self) -> list[dict]:
        return [json.loads(x) for x in list(self.out.lines)]

    def steps(self, slug: str | None = None) -> list[dict]:
        return [d for d in self.records() if "file" in d and (slug is None or d.get("slug") == slug)]

    def wait(self, pred: Callable[["Tail"], Any], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self):
                return
            time.sleep(0.01)
        raise AssertionError(f"tail stdout so far: {self.out.lines[-10:]}\nstderr: {self.err.lines[-10:]}")

    def settle(self, seconds: float = 0.8) -> None:
        """Give a follower time to print what it should not (duplicates)."""
        time.sleep(seconds)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> "Tail":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def inotify_watches(pid: int) -> int:
    """How many inotify watches a process holds (from /proc/PID/fdinfo)."""
    n = 0
    fd_dir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                n += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            continue
    return n
