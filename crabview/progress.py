"""A progress line on stderr for CLI work that takes over a second (TTY only)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, stream=None, delay: float = 1.0):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay or now - self.last < 0.1:
            return
        self.last = now
        pct = 100 * done // total if total else 100
        self.stream.write(f"\r{self.label}: {done:,}/{total:,} ({pct}%)\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
