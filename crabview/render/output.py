"""The CLI's only way to write to stdout and stderr.

Every line a command prints goes through ``line`` (text), ``json_doc``
(``--json``) or ``data`` (export bytes), whatever the stream is (a
terminal, a pipe, a file): store text can never reach a terminal raw, and
a caller cannot forget to sanitize because there is no other door.
``visible`` is idempotent, so text already made visible is unchanged.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, TextIO

from .safe import visible

# The JSON encoder (and the json module under it) is imported by the first
# JSON output: plain text output, `ls` above all, starts without it.


class OutputError(Exception):
    """stdout cannot be written (closed, a full disk, an I/O error): the
    command ends with this one line and exit 2 (``cli.run``)."""


def _stream(err: bool) -> TextIO | None:
    return sys.stderr if err else sys.stdout


# What a command ends with when the reader of its stdout goes away (``| head``):
# the shell's code for a process ended by SIGPIPE, and no message.
EXIT_BROKEN_PIPE = 141


def _write(text: str, err: bool, stream: TextIO | None = None) -> None:
    try:
        _write_now(text, err, stream)
    except BrokenPipeError:
        if err:
            return  # nowhere to say it
        silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE) from None


def _write_now(text: str, err: bool, stream: TextIO | None) -> None:
    s = stream if stream is not None else _stream(err)
    if s is None:  # started with the descriptor closed (`>&-`)
        if err:
            return  # nowhere to say it: the exit code still does
        raise OutputError("cannot write to stdout: it is closed")
    buf = getattr(s, "buffer", None)
    try:
        # Names that are not valid UTF-8 reach us as lone surrogates: written
        # as \udcXX text instead of crashing the encoder.
        if buf is not None:
            s.flush()
            buf.write(text.encode("utf-8", "backslashreplace"))
            buf.flush()
        else:  # e.g. click's test runner with a text stream
            s.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))
            s.flush()
    except BrokenPipeError:
        raise  # the reader went away: _write ends the command quietly (exit 141)
    except (OSError, ValueError) as e:  # ValueError: a stream closed under us
        if err:
            return
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise OutputError(f"cannot write to stdout: {why}") from None


def silence_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's final flush of what a
    failed write left buffered neither fails nor prints "Exception ignored"."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    except OSError:
        pass


def safe(text: str) -> str:
    """``text`` as it may be printed: controls, bidi and invisibles visible
    (newlines and tabs stay: they are layout)."""
    return visible(text).encode("utf-8", "backslashreplace").decode("utf-8")


def line(text: str = "", err: bool = False) -> None:
    """Print one line (or several joined by newlines) of human text."""
    _write(visible(text) + "\n", err)


def lines(texts: list[str], err: bool = False, stream: TextIO | None = None) -> None:
    """Print many lines in one write (tail's batches); ``stream``: another
    text stream than stdout/stderr (tail's, injectable for tests)."""
    if texts:
        # One pass over the whole text: ``visible`` replaces character by
        # character and leaves newlines alone, so this is each line made
        # visible, joined (a 10k-row listing makes one call, not 10k).
        _write(_visible_text("\n".join(texts) + "\n"), err, stream)


# What ``visible`` leaves as it is in plain ASCII: the printable characters,
# tab and newline. Text of only these (a listing of plain names, nearly
# always) is checked with one C-speed pass instead of a regex over it.
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n"


def _visible_text(text: str) -> str:
    """``visible(text)``, quicker for plain ASCII."""
    if text.isascii() and not text.encode("ascii").translate(None, _PLAIN_ASCII):
        return text
    return visible(text)


def json_doc(value: Any, indent: int | None = 2) -> None:
    """A ``--json`` document: inert JSON (unsafe characters as \\uXXXX)."""
    from .jsonenc import dumps

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
    from .jsonenc import iter_dumps

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
    from .jsonenc import dumps

    return dumps(value)


def data(blob: bytes) -> None:
    """Export bytes to stdout. The renderings are inert by construction;
    this checks again, so a rendering bug cannot reach a terminal."""
    text = blob.decode("utf-8", "backslashreplace")
    _write(visible(text), False)


def error(message: str, prefix: str = "crabview") -> None:
    """The one-line error every failure ends with (on stderr)."""
    _write(f"{prefix}: {visible(message, multiline=False)}\n", True)


__all__ = ["OutputError", "silence_stdout", "line", "lines", "json_doc", "json_stream", "json_line", "data", "data_stream", "error", "safe"]
