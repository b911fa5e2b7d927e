"""Shared fixtures: small and generic on purpose."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from crabview.demo import DaemonWriter, build_demo
from support.capabilities import CHECKS, require


# Modules that drive a real app, terminal, mount, receiver or live watcher:
# the whole suite (and CI) runs them; the quick development loop,
# `pytest -m "not slow"`, leaves them out (README, Development).
SLOW_MODULES = (
    "test_tui_", "test_hostile_tui", "test_never_writes", "test_ship", "test_data_ship_edges",
    "test_stress", "test_live", "test_fuse", "test_hostile_mount", "test_attack_mount", "test_setup",
    "test_concurrency", "test_hostile_store",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name.startswith(SLOW_MODULES):
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # @pytest.mark.needs_fuse / needs_tmux: skip without the capability,
    # fail under CI=true (tests/support/capabilities.py)
    for marker in CHECKS:
        if item.get_closest_marker(marker) is not None:
            require(marker)


@pytest.fixture(autouse=True)
def own_tmux_server(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test's tmux calls reach a tmux server of its own (TMUX_TMPDIR
    holds its socket): tests running side by side, or a user's own tmux,
    never share sessions, sizes or options with them."""
    d = tmp_path_factory.mktemp("tmux")
    monkeypatch.setenv("TMUX_TMPDIR", str(d))
    monkeypatch.delenv("TMUX", raising=False)
    # a terminal program sizes itself from COLUMNS/LINES when they are set
    # (some runners set them): the pane's own size must decide
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    yield
    if any(d.iterdir()):  # a server was started: end it with the test
        subprocess.run(["tmux", "kill-server"], capture_output=True, env={**os.environ, "TMUX_TMPDIR": str(d)})


@pytest.fixture
def demo_store(tmp_path: Path) -> Path:
    """A fresh demo store (built by the daemon-like writer) in tmp_path."""
    return build_demo(tmp_path / "demo")


@pytest.fixture
def writer(tmp_path: Path) -> DaemonWriter:
    """A DaemonWriter on an empty crabtalk root in tmp_path (root: writer.root)."""
    return DaemonWriter(tmp_path / "root")


def wait_until(pred: Callable[[], object], timeout: float = 5.0, interval: float = 0.02) -> object:
    """Poll ``pred`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s: {pred!r}")
        time.sleep(interval)
