"""The TUI's doors for untrusted text: notifications, palette hits, and a
last resort for exceptions.

Textual parses a ``str`` as markup in many places (``notify`` unless told
otherwise, ``Static("…")``, a command palette hit's prompt, ``Matcher.
highlight``); ``[@click=app.quit]`` in a session title would then be a
live link. Everything here takes plain text, makes it visible
(``render.safe``) and hands Textual a ``rich.text.Text`` or ``Content``,
which is never parsed.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.content import Content

from ..render.safe import one_line, visible

MATCH_STYLE = Style(reverse=True)


def plain(text: str, width: int = 200, style: str = "") -> Text:
    """One line of untrusted text as a ``Text`` (never markup)."""
    return Text(one_line(text, width), style=style)


def plain_content(text: str, width: int = 200) -> Content:
    """One line of untrusted text as a ``Content`` (never markup)."""
    return Content(one_line(text, width))


def notify_plain(app: Any, message: str, *, title: str = "", severity: str = "information", timeout: float | None = None) -> None:
    """``app.notify`` for text that may quote a store: visible, one line per
    line, and never parsed as markup."""
    kwargs: dict[str, Any] = {"title": one_line(title, 80), "severity": severity, "markup": False}
    if timeout is not None:
        kwargs["timeout"] = timeout
    app.notify(visible(message[:2000]), **kwargs)


def highlighted_hit_text(text: str, offsets: Any) -> Text:
    """A palette hit for ``text`` (already visible) with the fuzzy match's
    characters reversed, built as a ``Text``: what ``Matcher.highlight``
    does, without its ``Content.from_markup``."""
    t = Text(text)
    n = len(text)
    for off in offsets:
        if 0 <= off < n and not text[off].isspace():
            t.stylize(MATCH_STYLE, off, off + 1)
    return t


def error_line(error: BaseException) -> str:
    """One visible line saying what went wrong, without a traceback (which
    would print the locals: store data)."""
    inner = getattr(error, "error", None)  # textual.worker.WorkerFailed
    e = inner if isinstance(inner, BaseException) else error
    if isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename is not None else ""
        return one_line(f"cannot read {where}{e.strerror}", 300)
    return one_line(f"{type(e).__name__}: {e}", 300)


class GuardedApp:
    """Mixin for the App: a worker that fails (an unreadable directory, a
    bug) becomes an error notification and a status-line message; the app
    keeps running. Textual's default prints a traceback with locals, which
    walks (and shows) store data and can take minutes on deep values."""

    worker_errors: list[str]
    exit_signal: int | None = None

    def _on_mount(self, event: Any) -> None:
        install_signal_exit(self)

    def _handle_exception(self, error: Exception) -> None:  # Textual's hook
        from textual.worker import WorkerFailed

        msg = error_line(error)
        if not hasattr(self, "worker_errors"):
            self.worker_errors = []
        self.worker_errors.append(msg)
        if isinstance(error, WorkerFailed):
            try:
                notify_plain(self, msg, title="error", severity="error", timeout=30)
                status = self.query_one("#status")  # type: ignore[attr-defined]
                status.update(Text(f"error: {msg}", style="bold red"))
            except Exception:  # noqa: BLE001 - the screen may be gone
                pass
            return
        # Outside a worker: exit, with one line and no locals.
        self._return_code = 2  # type: ignore[attr-defined]
        self.exit(message=Text(f"crabview: {msg}"), return_code=2)  # type: ignore[attr-defined]


# seconds the normal exit gets after a signal before the process ends itself
SIGNAL_EXIT_GRACE: dict[int, float] = {}


def install_signal_exit(app: Any) -> None:
    """SIGTERM and SIGHUP end the app the normal way, so Textual restores
    the terminal (alternate screen off, mouse tracking off, cursor shown)
    instead of the process dying with the terminal left in app mode."""
    import asyncio
    import os
    import signal
    import threading

    SIGNAL_EXIT_GRACE.setdefault(signal.SIGHUP, 2.0)  # no terminal to restore
    SIGNAL_EXIT_GRACE.setdefault(signal.SIGTERM, 5.0)
    if getattr(app, "is_headless", False):
        return  # tests drive a headless app inside the test process
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return

    def on_signal(sig: int) -> None:
        app.exit_signal = sig
        # Textual's shutdown can block for good once the terminal is gone: its
        # writer thread dies on the dead tty and the restoring writes wait on
        # a full queue (seen with gdb on processes left behind by a closed
        # tmux). A process whose terminal went away must not linger: if the
        # normal exit has not ended it by then, end it.
        watchdog = threading.Timer(SIGNAL_EXIT_GRACE.get(sig, 5.0), os._exit, args=(128 + sig,))
        watchdog.daemon = True
        watchdog.start()
        app.exit(return_code=128 + sig)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            pass


__all__ = ["install_signal_exit", "plain", "plain_content", "notify_plain", "highlighted_hit_text", "error_line", "GuardedApp"]
