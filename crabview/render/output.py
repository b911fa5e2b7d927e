"""The CLI's only way to write to stdout and stderr.

Every line a command prints goes through ``line`` (text), ``json_doc``
(``--json``) or ``data`` (export bytes), whatever the stream is (a
terminal, a pipe, a file): store text can never reach a terminal raw, and
a caller cannot forget to sanitize because there is no other door.
``visible`` is idempotent, so text already made visible is unchanged.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .jsonenc import dumps
from .safe import visible


def _stream(err: bool) -> TextIO:
    return sys.stderr if err else sys.stdout


def _write(text: str, err: bool) -> None:
    s = _stream(err)
    buf = getattr(s, "buffer", None)
    # Names that are not valid UTF-8 reach us as lone surrogates: written
    # as \udcXX text instead of crashing the encoder.
    if buf is not None:
        s.flush()
        buf.write(text.encode("utf-8", "backslashreplace"))
        buf.flush()
    else:  # e.g. click's test runner with a text stream
        s.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))
        s.flush()


def safe(text: str) -> str:
    """``text`` as it may be printed: controls, bidi and invisibles visible
    (newlines and tabs stay: they are layout)."""
    return visible(text).encode("utf-8", "backslashreplace").decode("utf-8")


def line(text: str = "", err: bool = False) -> None:
    """Print one line (or several joined by newlines) of human text."""
    _write(visible(text) + "\n", err)


def lines(texts: list[str], err: bool = False) -> None:
    """Print many lines in one write (tail's batches)."""
    if texts:
        _write("".join(visible(t) + "\n" for t in texts), err)


def json_doc(value: Any, indent: int | None = 2) -> None:
    """A ``--json`` document: inert JSON (unsafe characters as \\uXXXX)."""
    _write(dumps(value, indent) + "\n", False)


def json_line(value: Any) -> str:
    """One compact inert JSON line (tail --json, jsonl)."""
    return dumps(value)


def data(blob: bytes) -> None:
    """Export bytes to stdout. The renderings are inert by construction;
    this checks again, so a rendering bug cannot reach a terminal."""
    text = blob.decode("utf-8", "backslashreplace")
    _write(visible(text), False)


def error(message: str, prefix: str = "crabview") -> None:
    """The one-line error every failure ends with (on stderr)."""
    _write(f"{prefix}: {visible(message, multiline=False)}\n", True)


__all__ = ["line", "lines", "json_doc", "json_line", "data", "error", "safe"]
