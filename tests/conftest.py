"""Shared fixtures: small and generic on purpose."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from crabview.demo import DaemonWriter, build_demo
from support.capabilities import CHECKS, require


def pytest_runtest_setup(item: pytest.Item) -> None:
    # @pytest.mark.needs_fuse / needs_tmux: skip without the capability,
    # fail under CI=true (tests/support/capabilities.py)
    for marker in CHECKS:
        if item.get_closest_marker(marker) is not None:
            require(marker)


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
