"""What a test needs from the machine (FUSE, tmux), and what happens without it.

Outside CI a missing capability skips the test with the reason. Under
``CI=true`` it fails instead: a green CI run must mean the FUSE and
real-terminal tests really ran, not that they were quietly skipped.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def fuse_missing() -> str | None:
    """Why a FUSE mount cannot be made here, or None when it can."""
    why = []
    if not os.path.exists("/dev/fuse"):
        why.append("/dev/fuse does not exist")
    if shutil.which("fusermount3") is None:
        why.append("fusermount3 is not on PATH (apt-get install fuse3)")
    return ", ".join(why) or None


def tmux_missing() -> str | None:
    return None if shutil.which("tmux") else "tmux is not on PATH (apt-get install tmux)"


CHECKS = {"needs_fuse": ("FUSE", fuse_missing), "needs_tmux": ("tmux", tmux_missing)}


def require(marker: str) -> None:
    """Skip (or, under CI, fail) the running test when ``marker``'s capability is missing."""
    what, check = CHECKS[marker]
    why = check()
    if why is None:
        return
    if in_ci():
        pytest.fail(f"CI=true and this test needs {what}: {why}", pytrace=False)
    pytest.skip(f"needs {what}: {why}")


def require_fuse() -> None:
    require("needs_fuse")


def require_tmux() -> None:
    require("needs_tmux")
