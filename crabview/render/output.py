"""The CLI's only way to write to stdout and stderr.

Every line a command prints goes through ``line`` (text), ``json_doc``
(``--json``) or ``data`` (export bytes), whatever the stream is (a
terminal, a pipe, a file): store text can never reach a terminal raw, and
a caller cannot forget to sanitize because there is no other door.
``visible`` is idempotent, so text already made visible is unchanged.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, TextIO

from .jsonenc import dumps, iter_dumps
from .safe import visible


def _stream(err: bool) -> TextIO:
    return sys.stderr if err else sys.stdout


# What a command ends with when the reader of its stdout goes away (``| head``):
# the shell's code for a process ended by SIGPIPE, and no message.
EXIT_BROKEN_PIPE = 141


def _write(text: str, err: bool) -> None:
    try:
        _write_now(text, err)
    except BrokenPipeError:
        if err:
            raise
        quiet_broken_pipe()
        raise SystemExit(EXIT_BROKEN_PIPE) from None


def _write_now(text: str, err: bool) -> None:
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


# A streamed document goes out in writes of about this many characters:
# few enough system calls, and the first bytes leave early.
STREAM_CHUNK = 1 << 16


def _write_pieces(pieces: Iterable[str], err: bool = False) -> None:
    batch: list[str] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= STREAM_CHUNK:
            _write("".join(batch), err)
            batch.clear()
            size = 0
    if batch:
        _write("".join(batch), err)


def json_stream(value: Any, indent: int | None = 2) -> None:
    """``json_doc`` written as it is encoded: the same bytes, but a
    StreamList/StreamObject inside ``value`` is rendered item by item, so
    memory does not grow with the document."""
    _write_pieces(_then_newline(iter_dumps(value, indent)))


def _then_newline(pieces: Iterable[str]) -> Iterable[str]:
    yield from pieces
    yield "\n"


def data_stream(pieces: Iterable[str]) -> None:
    """``data`` of a rendering given in pieces of text (same bytes as
    ``data(to_bytes("".join(pieces)))``), written as they come."""
    _write_pieces(visible(p.encode("utf-8", "backslashreplace").decode("utf-8")) for p in pieces)


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


def quiet_broken_pipe() -> None:
    """The reader of stdout went away (``| head``): point stdout at
    /dev/null so the interpreter's final flush cannot complain, and say
    nothing (the output was not wanted any more)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


__all__ = ["line", "lines", "json_doc", "json_stream", "json_line", "data", "data_stream", "error", "safe", "quiet_broken_pipe"]
