"""crabview's command line. ``crabview [ROOT]`` opens the TUI; the rest are for scripts.

Nothing here imports Textual unless the TUI is asked for.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from operator import attrgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, NoReturn

import click

from .progress import Progress
from .render import output as out
from .render.safe import one_line, visible
from .store.layout import StoreError, parse_slug, resolve, sender_slug
from .store.store import Store


def _fail(message: str, code: int = 2) -> NoReturn:
    out.error(message)
    sys.exit(code)


def _open_store(root: str | None) -> Store:
    try:
        return Store.open(root)
    except StoreError as e:
        hint = ""
        if root is None:
            hint = " (no crabtalk store here: pass a ROOT, set $CRABTALK_HOME, or try `crabview demo`)"
        elif os.sep not in root and not os.path.exists(root):
            hint = " (not a command either: see `crabview --help`)"
        _fail(str(e) + hint)
    except OSError as e:
        _fail(f"{root}: {e.strerror or e}")


def _session_target(session: str, root: str | None) -> tuple[Store, str]:
    """SESSION may be a session directory or a slug under ROOT.

    A directory is taken by its real location (``layout.resolve``), so
    ``.``, ``..``, a relative slug typed inside ``sessions/`` and symlinked
    paths all find the store's root and memory.db.
    """
    p = Path(session).expanduser()
    if _looks_like_path(session) and not p.is_dir():
        _fail(_path_problem(session))  # a path, not a slug: say what is wrong with it
    if p.exists() and not p.is_dir():
        _fail(f"{session}: not a session directory (it is a file; sessions are directories under sessions/)")
    if p.is_dir() and (root is None or os.sep in session or session in (".", "..")):
        try:
            layout = resolve(p)
        except StoreError as e:
            _fail(str(e))
        if layout.session is None:
            _fail(f"{session}: not a session directory (no meta, no step- files, not under sessions/)")
        return Store(layout), layout.session
    store = _open_store(root)
    if not (store.sessions_dir / session).is_dir():
        _fail(f"no session {session!r} under {store.sessions_dir}")
    return store, session


def _looks_like_path(arg: str) -> bool:
    return os.sep in arg or arg in (".", "..") or arg.startswith("~")


def _path_problem(arg: str) -> str:
    """Why the path ``arg`` is not a session directory, naming it as typed."""
    try:
        st = os.stat(Path(arg).expanduser())
    except FileNotFoundError:
        return f"{arg}: no such file or directory"
    except OSError as e:
        return f"{arg}: {e.strerror or e}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{arg}: not a session directory (it is a file; sessions are directories under sessions/)"
    return f"{arg}: not a session directory"


def _readable_session(store: Store, slug: str) -> None:
    """A command about one session stops, with one line and exit 2 (via
    ``run``), when that session directory cannot be listed."""
    os.listdir(store.session_path(slug))


def _one_session_store(store: Store, slug: str) -> Store:
    """A Store narrowed to one session (what tail and check follow)."""
    from .store.layout import StoreLayout

    lay = store.layout
    narrowed = Store.__new__(Store)
    narrowed.layout = StoreLayout(root=lay.root, sessions_dir=lay.sessions_dir, session=slug)
    narrowed.memory = store.memory
    return narrowed


def _width(n: int) -> int:
    """Column width for text output: cut to fit a terminal, never in a pipe."""
    return n if sys.stdout.isatty() else 1_000_000


def _dump(obj: Any) -> None:
    """A ``--json`` document through the one inert JSON encoder."""
    out.json_doc(obj)


class DefaultGroup(click.Group):
    """``crabview [ROOT]`` means ``crabview ui [ROOT]``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["ui", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        # Ctrl-C: exit 130 like any interrupted tool. click's own handling
        # ("Aborted!", exit 1) would read as `check`'s "problems found".
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            out.line("interrupted", err=True)
            sys.exit(130)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crabview")
def main() -> None:
    """Inspect a crabtalk 0.0.22 session store exactly as the daemon reads it.

    ROOT is a crabtalk root (holding sessions/), a sessions directory or one
    session directory; by default $CRABTALK_HOME, then ~/.crabtalk.
    """


@main.command()
@click.argument("root", required=False)
@click.option("--poll", is_flag=True, help="Poll the store instead of using inotify.")
def ui(root: str | None, poll: bool) -> None:
    """Open the browser (the default command)."""
    store = _open_store(root)
    _run_tui(store, poll=poll)


def _run_tui(store: Store, poll: bool = False, live_writer: Any = None) -> None:
    try:
        from .tui.app import make_app
    except ImportError as e:  # pragma: no cover - textual is a dependency
        _fail(f"the TUI needs Textual: {e}")
    if not sys.stdout.isatty():
        _fail("the TUI needs a terminal; for scripts use `crabview ls`, `show`, `check` or `tail`")
    app = make_app(store, poll=poll, live_writer=live_writer)
    try:
        app.run()
    finally:
        _restore_terminal()
    sig = getattr(app, "exit_signal", None)
    if sig:  # SIGTERM/SIGHUP: the app exited cleanly (terminal restored); say which
        sys.exit(128 + sig)


# Whatever way the app ended (q, SIGTERM, SIGHUP, a crash): mouse tracking
# off, bracketed paste off, cursor shown. Textual's own shutdown does this,
# but its cursor can come back hidden: leaving the alternate screen restores
# the cursor state saved when it was entered, and that race was seen in tmux.
_TERMINAL_RESET = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?25h"


def _restore_terminal() -> None:
    stream = sys.__stdout__
    try:
        if stream is None or not stream.isatty():
            return
        stream.flush()  # whatever Textual left in the buffer goes first
        os.write(stream.fileno(), _TERMINAL_RESET.encode())
    except (OSError, ValueError):
        pass


# --- ls --------------------------------------------------------------------------


def _ls_row(slug: str, listed: bool, meta_status: str, meta: Any, **counts: Any) -> dict[str, Any]:
    """One `ls` row; the quick and full listings differ only in ``counts``."""
    ps = parse_slug(slug)
    return {
        "slug": slug,
        "listed": listed,
        "agent": ps.agent if ps else None,
        "sender": ps.sender if ps else None,
        "seq": ps.seq if ps else None,
        "title": meta.title if meta else None,
        "meta_status": meta_status,
        **counts,
        "updated": meta.updated_at if meta else None,
        "message_count": meta.message_count if meta else None,
    }


@main.command()
@click.argument("root", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of sessions.")
@click.option("--quick", is_flag=True, help="Meta and names only: skip decoding steps (no compact/problem counts).")
def ls(root: str | None, as_json: bool, quick: bool) -> None:
    """List sessions: agent, sender, seq, title, steps, compacts, problems, updated."""
    store = _open_store(root)
    if quick:
        _ls_quick(store, as_json)
        return
    rows: list[dict[str, Any]] = []
    latest: dict[tuple[str, str], str] = {}
    with Progress("reading sessions") as progress:
        for s in store.iter_sessions(progress):
            rows.append(
                _ls_row(s.slug, s.listed, s.meta_status, s.meta, load=s.load_status, steps=len(s.steps),
                        compacts=s.compact_count, problems=len(s.problems),
                        replay_entries=len(s.replay_indices), archive=s.archive)
            )
    latest_of = store.latest_sessions()  # one scan for every pair
    for r in rows:
        if r["agent"] is not None:
            key = (r["agent"], r["sender"])
            if key not in latest:
                latest[key] = latest_of.get(f"{sender_slug(r['agent'])}_{sender_slug(r['sender'])}_", "")
            r["latest"] = latest[key] == r["slug"]
        else:
            r["latest"] = False
    if as_json:
        _dump(rows)
        return
    _ls_table(store, [r["slug"] for r in rows], [r["title"] for r in rows], [r["updated"] for r in rows],
              [_ls_cells(r) for r in rows], [_flags(r["listed"], r["latest"], r.get("load") == "error") for r in rows])


def _ls_quick(store: Store, as_json: bool) -> None:
    """`ls --quick`: the summaries straight to rows (its speed is the listing's: tests/bench/load.py)."""
    with Progress("reading sessions") as progress:
        sms = store.summaries(progress if progress.enabled else None)
    if as_json:
        rows = []
        for sm in sms:
            row = _ls_row(sm.slug, sm.listed, sm.meta_status, sm.meta,
                          steps=sm.step_names, tmp_files=sm.tmp_names, compacts=None, problems=None)
            row["latest"] = sm.latest  # found in the listing's own scan
            rows.append(row)
        _dump(rows)
        return
    metas = list(map(attrgetter("meta"), sms))
    steps = list(map(attrgetter("step_names"), sms))
    counts_of = {n: f"{n:>6}    ?     ?" for n in set(steps)}  # STEPS CMP PROB: no compact or problem counts
    _ls_table(
        store,
        list(map(attrgetter("slug"), sms)),
        [meta.title if meta else None for meta in metas],
        [meta.updated_at if meta else None for meta in metas],
        list(map(counts_of.__getitem__, steps)),
        [_QUICK_FLAGS[sm.listed][sm.latest] for sm in sms],
    )


def _ls_cells(r: dict[str, Any]) -> str:
    """A full listing row's STEPS CMP PROB cells."""
    cmp_ = "?" if r["compacts"] is None else str(r["compacts"])
    prob = "?" if r["problems"] is None else str(r["problems"])
    return f"{r['steps']:>6} {cmp_:>4} {prob:>5}"


def _flags(listed: bool, latest: bool, load_fails: bool) -> str:
    flags = []
    if not listed:
        flags.append("hidden")
    if latest:
        flags.append("latest")
    if load_fails:
        flags.append("load-fails")
    return ",".join(flags)


_QUICK_FLAGS = tuple(tuple(_flags(listed, latest, False) for latest in (False, True)) for listed in (False, True))


def _ls_table(store: Store, slugs: list[str], titles: list[str | None], updated: list[str | None],
              counts: list[str], flags: list[str]) -> None:
    """The `ls` table: SESSION TITLE STEPS CMP PROB UPDATED FLAGS, one write."""
    if not slugs:
        out.line(f"no sessions under {store.sessions_dir}")
        return
    # Columns as wide as their widest cell (cut to fit on a terminal, never
    # in a pipe), padded by display cells: a long or wide title shifts nothing.
    slug_texts = _one_lines(slugs, _width(32))
    title_texts = _one_lines([t or "-" for t in titles], _width(28))
    slug_cells = _cell_lens(slug_texts)
    title_cells = _cell_lens(title_texts)
    ws = max(7, max(slug_cells))  # len("SESSION")
    wt = max(5, max(title_cells))  # len("TITLE")
    times = [u.replace("T", " ")[:19] if u else "-" for u in _one_lines([u or "" for u in updated], 30)]
    pads = [" " * n for n in range(max(ws, wt) + 1)]
    lines = [f"{_pad('SESSION', ws)} {_pad('TITLE', wt)} {'STEPS':>6} {'CMP':>4} {'PROB':>5}  {'UPDATED':<20} FLAGS".rstrip()]
    lines += [
        f"{s}{pads[ws - sc]} {t}{pads[wt - tc]} {c}  {when:<20} {f}".rstrip()
        for s, sc, t, tc, c, when, f in zip(slug_texts, slug_cells, title_texts, title_cells, counts, times, flags)
    ]
    out.lines(lines)  # one write, not one per row


def _one_lines(texts: list[str], width: int) -> list[str]:
    """``[one_line(t, width) for t in texts]``, with one look over them all
    (a listing's names and titles are nearly always plain and short)."""
    joined = "".join(texts)
    if joined.isascii():
        plain = not joined.encode("ascii").translate(None, _PRINTABLE_ASCII)
    else:
        plain = visible(joined, multiline=False) == joined
    if not plain:
        return [one_line(t, width) for t in texts]
    if not texts or max(map(len, texts)) <= width:
        return texts
    return [t if len(t) <= width else one_line(t, width) for t in texts]


# What one_line leaves as it is in plain ASCII (every control, tab and
# newline included, is made visible).
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _cell_lens(texts: list[str]) -> list[int]:
    """Terminal cells of each text (made visible already: no controls, so plain ASCII is one cell a character)."""
    if "".join(texts).isascii():
        return list(map(len, texts))
    from rich.cells import cell_len

    return [len(t) if t.isascii() else cell_len(t) for t in texts]


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal cells (wide characters count two)."""
    return text + " " * max(0, width - _cell_lens([text])[0])


# --- show -------------------------------------------------------------------------


@main.command()
@click.argument("session")
@click.option("--root", help="Store root when SESSION is a slug.")
@click.option("--json", "as_json", is_flag=True, help="The session as one JSON object.")
@click.option("--all", "mode", flag_value="all", default=True, help="Every step file (default).")
@click.option("--replay", "mode", flag_value="replay", help="Only what the daemon would replay.")
def show(session: str, root: str | None, as_json: bool, mode: str) -> None:
    """Show one session: every step with the daemon's verdict, or just the replay."""
    from .render.text import ToolIndex, session_json_stream, step_text, summary

    store, slug = _session_target(session, root)
    _readable_session(store, slug)
    s = store.load_session(slug)
    if as_json:
        # written step by step as it is encoded: memory stays the load's
        out.json_stream(session_json_stream(s, replay_only=(mode == "replay")))
        return
    meta = s.meta
    out.line(f"session {visible(s.slug, multiline=False)}  ({visible(str(s.path), multiline=False)})")
    if meta is not None:
        out.line(f"  agent {one_line(meta.agent)} · created by {one_line(meta.created_by)} · {one_line(meta.created_at)} · title {one_line(meta.title) or '-'}")
    out.line(f"  meta: {s.meta_status}" + (f" ({one_line(s.meta_error or '')})" if s.meta_error else "") + f" · daemon load: {s.load_status}" + ("" if s.listed else " · hidden from the daemon's listing"))
    if s.load_error:
        out.line(f"  load: {one_line(s.load_error, 300)}")
    if s.boundary is not None:
        found = {True: "in memory.db", False: "MISSING from memory.db", None: "legacy, no archive"}[s.archive_found]
        out.line(f"  replay starts at {s.boundary.name}; archive {one_line(s.archive or '-')} ({found})")
    out.line(f"  next step number: {s.next_step} · replayed entries: {len(s.replay_indices)} of {len(s.steps)} files")
    tools = ToolIndex(s.steps)
    out.line("")
    if mode == "replay":
        if s.archive is not None:
            out.line(f"[archive {visible(s.archive, multiline=False)}]\n{visible(s.archive_text or '')}\n")
        for i in s.replay_indices:
            st = s.steps[i]
            out.line(f"── {one_line(st.name, 200)}")
            out.line(step_text(st, tools))
            out.line("")
        return
    from .render.text import KIND_GLYPH

    start = s.replay_start
    for i, st in enumerate(s.steps):
        if i == start and start > 0:
            out.line("──────── replay starts here ────────")
        mark = " " if s.is_replayed(i) or st.kind != "entry" else "·"
        out.line(f"{KIND_GLYPH[st.kind]}{mark}{one_line(st.name, 80):<22} {summary(st, tools, _width(120))}")
    out.line("")
    out.line("● entry  ◆ event  ═ compact  ≡ legacy compact  ✗ unparsable (skipped)  ⊘ unreadable (load fails)  · not replayed")
    if s.problems:
        out.line("")
        out.line(f"problems ({len(s.problems)}):")
        for p in s.problems:
            out.line(f"  [{p.code}] {one_line(p.file or '', 80)} {one_line(p.reason, _width(200))}")


# --- check ---------------------------------------------------------------------


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON object (each problem with its severity).")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="warning",
    show_default=True,
    help="Exit 1 when a problem of this severity or worse is found. "
    "error: the daemon loses data or cannot resume; warning: will bite later (a leftover tmp, a gap); info: a lenient decode.",
)
def check(target: str | None, as_json: bool, fail_on: str) -> None:
    """Every problem in a store (or one session), with its severity.

    Exit 0 when nothing reaches --fail-on (default warning: info-only
    findings exit 0), 1 when something does, 2 when the root is unreadable.
    """
    from .store.problems import SEVERITIES, at_least

    store = _open_store(target)
    problems: list[Any] = []
    store_problems = store.store_problems()
    if as_json:  # streamed: each session loaded, written and let go of in turn
        _check_json(store, store_problems, problems, fail_on)
    else:
        with Progress("checking sessions") as progress:
            for s in store.iter_sessions(progress):
                problems.extend(s.problems)
    problems = store_problems + problems
    counts = _severity_counts(problems)
    failing = sum(1 for p in problems if at_least(p.severity, fail_on))
    if not as_json:
        marks = {"error": "ERROR", "warning": "warning", "info": "info"}
        for p in problems:
            where = "/".join(x for x in (p.slug, p.file) if x)
            out.line(f"{marks.get(p.severity, p.severity):<7} {p.code:<22} {one_line(where, _width(60))}: {one_line(p.reason, _width(240))}")
        n = len(problems)
        parts = ", ".join(f"{counts[sev]} {sev if sev == 'info' or counts[sev] == 1 else sev + 's'}" for sev in SEVERITIES if counts[sev])
        sessions_n = len(list(store.session_entries()))
        with_problems = len({p.slug for p in problems if p.slug is not None})
        out.line(
            f"{n} problem{'s' if n != 1 else ''}{' (' + parts + ')' if parts else ''} in {with_problems} session{'s' if with_problems != 1 else ''}"
            f" ({sessions_n} checked)"
            + (f"; {failing} at --fail-on {fail_on} or worse" if failing else ""),
            err=True,
        )
    sys.exit(1 if failing else 0)


def _severity_counts(problems: list[Any]) -> dict[str, int]:
    from .store.problems import SEVERITIES

    counts = {sev: 0 for sev in SEVERITIES}
    for p in problems:
        counts[p.severity] = counts.get(p.severity, 0) + 1
    return counts


def _check_json(store: Store, store_problems: list[Any], problems: list[Any], fail_on: str) -> None:
    """``check --json``, streamed: each session is loaded, encoded and let
    go of in turn; ``problems`` collects the sessions' problems."""
    import msgspec

    from .render.jsonenc import Deferred, StreamObject
    from .render.text import session_json_stream
    from .store.problems import at_least

    with Progress("checking sessions") as progress:
        if sys.stdout.isatty():  # the document itself shows the progress there; a line would cut into it
            progress.enabled = False

        def sessions() -> Any:
            for s in store.iter_sessions(progress):
                problems.extend(s.problems)
                yield s.slug, session_json_stream(s)

        out.json_stream(
            StreamObject(
                iter(
                    [
                        ("root", str(store.layout.root) if store.layout.root else None),
                        ("sessions_dir", str(store.sessions_dir)),
                        ("memory", {"status": store.memory.status, "error": store.memory.error, "entries": len(store.memory.entries)}),
                        ("store_problems", [msgspec.to_builtins(p) for p in store_problems]),
                        ("sessions", StreamObject(sessions())),
                        ("problem_count", Deferred(lambda: len(store_problems) + len(problems))),
                        ("severity_counts", Deferred(lambda: _severity_counts(store_problems + problems))),
                        ("fail_on", fail_on),
                        ("failing", Deferred(lambda: sum(1 for p in store_problems + problems if at_least(p.severity, fail_on)))),
                    ]
                )
            )
        )


# --- latest / archives ------------------------------------------------------------------


@main.command()
@click.argument("agent")
@click.argument("sender")
@click.option("--root")
def latest(agent: str, sender: str, root: str | None) -> None:
    """The daemon's latest session for (AGENT, SENDER); exit 1 when none."""
    store = _open_store(root)
    slug = store.latest(agent, sender)
    if slug is None:
        out.line("no session", err=True)
        sys.exit(1)
    out.line(visible(slug, multiline=False))
    try:
        has_meta = (store.sessions_dir / slug / "meta").is_file()
    except OSError as e:  # the pick stands; only the note cannot be made
        out.line(f"note: cannot tell whether {visible(slug, multiline=False)} has a meta: {e.strerror or e}", err=True)
        return
    if not has_meta:
        out.line(f"note: {visible(slug, multiline=False)} has no meta: the daemon picks it, but its load returns nothing", err=True)


@main.command()
@click.argument("root", required=False)
@click.option("--json", "as_json", is_flag=True)
def archives(root: str | None, as_json: bool) -> None:
    """memory.db entries (compaction archives and others)."""
    import msgspec

    store = _open_store(root)
    mem = store.memory
    if as_json:
        _dump({"status": mem.status, "error": mem.error, "path": mem.path, "entries": [msgspec.to_builtins(e) for e in mem.entries]})
        sys.exit(0 if mem.status != "unreadable" else 1)
    if mem.status != "ok":
        out.line(f"memory.db {mem.status}: {mem.error}", err=True)
        sys.exit(0 if mem.status == "missing" else 1)
    for e in mem.entries:
        aliases = f" (aliases: {', '.join(one_line(a, 40) for a in e.aliases)})" if e.aliases else ""
        out.line(f"{e.id:>5} {e.kind:<8} {one_line(e.name, _width(40)):<40} {len(e.content):>7} chars{aliases}")


@main.command()
@click.argument("name")
@click.option("--root")
def archive(name: str, root: str | None) -> None:
    """Print one memory.db entry's content (by name or alias)."""
    store = _open_store(root)
    if store.memory.status != "ok":
        _fail(f"memory.db {store.memory.status}: {store.memory.error}", 1)
    e = store.memory.resolve(name)
    if e is None:
        _fail(f"no memory entry named {name!r}", 1)
    out.line(visible(e.content))


# --- demo ---------------------------------------------------------------------------


@main.command()
@click.argument("path", required=False)
@click.option("--live", is_flag=True, help="Keep writing into the demo store like a running daemon.")
@click.option("--no-ui", is_flag=True, help="Only write the store and print where it is.")
def demo(path: str | None, live: bool, no_ui: bool) -> None:
    """Write the demo store (to PATH or a temp dir) and open it."""
    from .demo import build_demo

    if path is None:
        import tempfile

        path = tempfile.mkdtemp(prefix="crabview-demo-")
    p = Path(path)
    if p.exists() and any(p.iterdir()):
        if not (p / "sessions").is_dir():
            _fail(f"{p} exists and is not empty; give an empty or new directory")
        out.line(f"using the existing store at {p}", err=True)
    else:
        build_demo(p)
        out.line(f"demo store written to {p}", err=True)
    if no_ui or not sys.stdout.isatty():
        out.line(str(p))
        return
    store = _open_store(str(p))
    writer = None
    if live:
        from .live_demo import LiveDemoWriter

        writer = LiveDemoWriter(p)
    _run_tui(store, live_writer=writer)


# --- tail -----------------------------------------------------------------------------


@main.command()
@click.argument("target", required=False)
@click.option("--root", help="Store root when TARGET is a session slug.")
@click.option(
    "-n",
    "lines",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many steps to print first: of a session, its last steps in load order; of a root, the store's most recent steps by the files' times (mtime), across sessions.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new steps as they land.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step (show --json fields + slug).")
@click.option("--poll", is_flag=True, help="Poll instead of inotify (network filesystems).")
def tail(target: str | None, root: str | None, lines: int, follow: bool, as_json: bool, poll: bool) -> None:
    """Print the last steps of a session (or the store's most recent steps under a root); -f follows.

    TARGET is a root, a session directory, or a session slug under --root
    (default $CRABTALK_HOME, then ~/.crabtalk). For a root, -n picks the
    most recent step files by modification time (mtime), whatever session
    they are in, and prints them oldest first.

    With -f, each step is printed once; a step whose file changes after it
    was printed is printed again, marked rewritten ("rewritten": true with
    --json). When the root or sessions/ is moved away, replaced or comes
    back, a line on stderr says so (and a {"event": "store_replaced"}
    record with --json) and the new store is followed. Directories that
    cannot be watched (the inotify watch limit) are polled, and stderr
    says "inotify + poll (N dirs polled: watch limit)".
    """
    from .tail import run_tail

    if target is not None and os.sep not in target and (root is not None or not os.path.exists(target)):
        store, slug = _session_target(target, root)
        _readable_session(store, slug)
        store = _one_session_store(store, slug)
    else:
        store = _open_store(target if target is not None else root)
    sys.exit(run_tail(store, lines, follow, as_json, poll=poll))


# --- mount / umount / export ---------------------------------------------------------


@main.command()
@click.argument("root")
@click.argument("mountpoint")
@click.option("--foreground", "-f", is_flag=True, help="Stay attached; Ctrl-C or SIGTERM unmounts.")
@click.option("--debug", is_flag=True, hidden=True, help="libfuse debug output (implies nothing else).")
def mount(root: str, mountpoint: str, foreground: bool, debug: bool) -> None:
    """Mount ROOT read-only at MOUNTPOINT as decoded files (FUSE).

    Layout: README.txt, problems.txt, sessions/<slug>/{meta.json, transcript.md,
    replay.jsonl, problems.txt, steps/, raw/}, archives/<name>.md,
    by-agent/<agent>/<sender>/latest. Without --foreground the mount runs in
    the background and this returns once it is ready; `crabview umount` ends it.
    """
    from .fuse.mount import MountError, check_fuse, mount as do_mount

    try:
        check_fuse()
    except MountError as e:
        _fail(str(e), e.code)
    store = _open_store(os.path.abspath(os.path.expanduser(root)))
    store.session_entries()  # an unreadable sessions/ fails here, with one line (run), not inside FUSE
    try:
        pid = do_mount(store, mountpoint, foreground=foreground, debug=debug)
    except MountError as e:
        _fail(str(e), e.code)
    if not foreground:
        mp = os.path.abspath(mountpoint)
        out.line(f"mounted {visible(str(store.layout.root or store.sessions_dir), multiline=False)} at {visible(mp, multiline=False)} (pid {pid}); unmount with: crabview umount {visible(mp, multiline=False)}", err=True)


@main.command()
@click.argument("mountpoint")
@click.option("--lazy", "-z", is_flag=True, help="Detach now even if busy; clean up when no longer used.")
def umount(mountpoint: str, lazy: bool) -> None:
    """Unmount a `crabview mount` (fusermount3 -u)."""
    from .fuse.mount import MountError, umount as do_umount

    try:
        do_umount(mountpoint, lazy=lazy)
    except MountError as e:
        _fail(str(e), e.code)


def _inside(path: Path, parent: Path | None) -> bool:
    if parent is None:
        return False
    try:
        path.resolve().relative_to(parent.resolve())
        return True
    except (ValueError, OSError):
        return False


def _store_dirs(store: Store, slug: str) -> list[Path]:
    """The directories whose files belong to the store being inspected."""
    dirs = [store.sessions_dir / slug, store.sessions_dir]
    if store.layout.root is not None:
        dirs.append(store.layout.root)
    return dirs


def _store_file_ids(dirs: list[Path]) -> set[tuple[int, int]]:
    """(st_dev, st_ino) of every file in the store, links followed (a step
    may be a symlink to a file elsewhere: writing there would change it)."""
    ids: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()
    todo = [str(d) for d in dirs]
    while todo:  # iterative: the store's shape is untrusted
        d = todo.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat()  # follows symlinks
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if e.is_dir():
                    if key not in seen_dirs:
                        seen_dirs.add(key)
                        todo.append(e.path)
                else:
                    ids.add(key)
    return ids


def _refuse_store_target(output: str, out_path: Path, dirs: list[Path], st: os.stat_result | None) -> None:
    for forbidden in dirs:
        if _inside(out_path, forbidden):
            _fail(f"{output}: refusing to write inside the store being inspected ({forbidden})")
    if st is not None and (st.st_dev, st.st_ino) in _store_file_ids(dirs):
        _fail(f"{output}: refusing to write: it is the same file as one in the store being inspected (a hard link or symlink to it)")


def _write_export(output: str, out_path: Path, blobs: Iterable[bytes], dirs: list[Path]) -> int:
    """Write ``blobs`` to ``out_path`` unless that is a store file; the
    number of bytes written.

    The file is opened without truncating, then checked by its open
    handle (device and inode), so a link swapped in between the check
    and the write cannot redirect it into the store.
    """
    try:
        st = os.stat(out_path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        _fail(f"{output}: {e.strerror or e}")
    _refuse_store_target(output, out_path, dirs, st)
    try:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o666)
    except OSError as e:
        _fail(f"{output}: {e.strerror or e}")
    try:
        fst = os.fstat(fd)
        if (fst.st_dev, fst.st_ino) in _store_file_ids(dirs) or _inside(out_path, dirs[0]):
            _fail(f"{output}: refusing to write: it is the same file as one in the store being inspected")
        if stat.S_ISREG(fst.st_mode):
            os.ftruncate(fd, 0)
        size = 0
        for blob in _batched(blobs):
            view = memoryview(blob)
            size += len(view)
            while view:
                n = os.write(fd, view)
                view = view[n:]
    except OSError as e:
        _fail(f"{output}: {e.strerror or e}")
    finally:
        os.close(fd)
    return size


def _batched(blobs: Iterable[bytes], size: int = 1 << 16) -> Iterator[bytes]:
    """Pieces joined into writes of about ``size`` bytes."""
    batch: list[bytes] = []
    n = 0
    for b in blobs:
        batch.append(b)
        n += len(b)
        if n >= size:
            yield b"".join(batch)
            batch.clear()
            n = 0
    if batch:
        yield b"".join(batch)


@main.command()
@click.argument("session")
@click.option("--root", help="Store root when SESSION is a slug.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "jsonl", "otlp"]), default="md", show_default=True)
@click.option("--with-content", is_flag=True, help="otlp: include message content, tool arguments and results.")
@click.option("--all", "mode", flag_value="all", help="Every step file (default for md and html).")
@click.option("--replay", "mode", flag_value="replay", help="Only what the daemon would replay (default for jsonl).")
@click.option("-o", "output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE instead of stdout.")
def export(session: str, root: str | None, fmt: str, mode: str | None, output: str | None, with_content: bool = False) -> None:
    """Export one session as Markdown, HTML or JSONL (the mount's renderings).

    md is the mount's transcript.md; jsonl with --replay (its default) is the
    mount's replay.jsonl, with --all one step verdict per line; html is one
    self-contained page; otlp is the session as one OpenTelemetry trace
    (OTLP/JSON, GenAI conventions; content only with --with-content).
    """
    from .render import files as rf

    store, slug = _session_target(session, root)
    _readable_session(store, slug)
    if mode is None:
        mode = "replay" if fmt == "jsonl" else "all"
    dirs = _store_dirs(store, slug)
    out_path = Path(output).expanduser() if output is not None else None
    if output is not None and out_path is not None:
        try:
            st0 = os.stat(out_path)
        except OSError:
            st0 = None
        _refuse_store_target(output, out_path, dirs, st0)
    s = store.load_session(slug)
    if fmt == "jsonl" and mode == "replay" and s.load_status != "ok":
        why = s.load_error or s.meta_error or f"meta {s.meta_status}"
        _fail(f"{slug}: nothing to export: the daemon's load of this session fails ({why}); "
              "`--format jsonl --all` lists every step with its verdict", 1)
    # the renderings come in pieces, one step at a time, and are written as
    # they come: memory stays the load's, whatever the session's length
    pieces: Iterable[str]
    if fmt == "md":
        pieces = rf.iter_transcript(s, replay_only=(mode == "replay"))
    elif fmt == "jsonl":
        pieces = rf.iter_replay(s) if mode == "replay" else rf.iter_steps_jsonl(s)
    elif fmt == "otlp":
        try:
            from .data.otlp import iter_otlp
        except ImportError as e:  # pragma: no cover - an install without the [data] extra
            _fail(f"--format otlp needs {e.name}: pip install 'crabview[data]'")
        # one OTLP request document, ASCII-only JSON, written as its spans are made
        pieces = iter_otlp(store, [s], with_content=with_content)
    else:
        from .render.html import iter_session_html

        pieces = iter_session_html(s, replay_only=(mode == "replay"))
    if output is None or out_path is None:
        out.data_stream(pieces)
        return
    size = _write_export(output, out_path, (rf.to_bytes(p) for p in pieces), dirs)
    out.line(f"wrote {size:,} bytes to {visible(str(out_path), multiline=False)}", err=True)



# Errors only a write can give: crabview writes nothing but its output.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _os_error_message(e: OSError) -> str:
    if e.errno in _WRITE_ERRNOS:
        return f"cannot write the output: {e.strerror or e}"
    where = e.filename if e.filename is not None else None
    why = e.strerror or str(e)
    return f"cannot read {where}: {why}" if where is not None else f"cannot read the store: {why}"



# --- sql / ship (the store as data) ----------------------------------------------------


def _store_args(args: tuple[str, ...]) -> list[tuple[str, Store]]:
    """STORE arguments: a path, or NAME=PATH to label its rows; none = the default root."""
    if not args:
        store = _open_store(None)
        return [(str(store.layout.root or store.sessions_dir), store)]
    out: list[tuple[str, Store]] = []
    seen: dict[str, str] = {}
    for a in args:
        name, eq, path = a.partition("=")
        if eq and name and os.sep not in name and not os.path.exists(a):
            store = _open_store(path)
            label = name
        else:
            store = _open_store(a)
            label = str(store.layout.root or store.sessions_dir)
            if store.layout.session is not None:
                label = str(store.sessions_dir / store.layout.session)
        if label in seen:
            _fail(f"{a}: the label {label!r} is already used by {seen[label]!r}; give each store its own NAME=PATH")
        seen[label] = a
        out.append((label, store))
    return out


def _looks_like_store(arg: str) -> bool:
    name, eq, path = arg.partition("=")
    return os.path.isdir(os.path.expanduser(arg)) or bool(eq and name and os.sep not in name and os.path.isdir(os.path.expanduser(path)))


@main.command()
@click.argument("args", nargs=-1, metavar="[STORE ...] QUERY")
@click.option("--json", "as_json", is_flag=True, help="Rows as one JSON array of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Rows as CSV with a header line.")
@click.option("--schema", is_flag=True, help="Print the tables and their columns (no QUERY needed).")
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False), help="Also write every table to DIR/<table>.parquet (never inside a store).")
def sql(args: tuple[str, ...], as_json: bool, as_csv: bool, schema: bool, parquet_dir: str | None) -> None:
    """Query one or many stores with SQL (DuckDB, in-process).

    Tables: sessions, steps, tool_calls, turns, compacts, problems; every row
    carries `store` (the path, or NAME from a NAME=PATH argument) and `slug`.
    `crabview sql --schema` lists the columns. Exit 2 on a bad query.
    """
    if as_json and as_csv:
        _fail("--json and --csv exclude each other")
    try:
        from .data import sql as dsql
        from .data.output import csv_text, json_text, table_text
        from .data.tables import build_tables
    except ImportError as e:  # pragma: no cover - duckdb is a dependency
        _fail(f"crabview sql needs DuckDB ({e.name}): pip install duckdb")
    if schema:
        if as_json:
            _dump(dsql.schema_json())
        else:
            out.line(dsql.schema_text().rstrip("\n"))
        return
    query: str | None = None
    if args and not (parquet_dir is not None and _looks_like_store(args[-1])):
        query, args = args[-1], args[:-1]
    if query is None and parquet_dir is None:
        _fail("give a QUERY (e.g. crabview sql \"SELECT kind, count(*) FROM steps GROUP BY kind\"), or --schema")
    if query is not None and _looks_like_store(query):
        # `crabview sql ~/.crabtalk`: the store was taken for the query
        _fail(f"give a QUERY after {visible(query, multiline=False)} "
              f"(e.g. crabview sql STORE \"SELECT kind, count(*) FROM steps GROUP BY kind\"), or --parquet DIR")
    stores = _store_args(args)
    if parquet_dir is not None:
        target = Path(parquet_dir).expanduser()
        for _label, st in stores:
            for forbidden in (st.sessions_dir, st.layout.root):
                if _inside(target, forbidden):
                    _fail(f"{parquet_dir}: refusing to write inside the store being inspected ({forbidden})")
    with Progress("reading sessions") as progress:
        tables = build_tables(stores, progress)
    try:
        con = dsql.connect(tables, parquet_dir)
    except OSError as e:
        _fail(f"{parquet_dir}: {e.strerror or e}")
    if parquet_dir is not None:
        out.line(f"wrote {len(dsql.SCHEMA)} tables to {visible(str(Path(parquet_dir).resolve()), multiline=False)}", err=True)
    if query is None:
        return
    try:
        names, rows = dsql.run_query(con, query)
    except dsql.QueryError as e:
        _fail(f"query failed: {e}")
    # through the CLI's one output door, like every other command
    if as_json:
        out.line(json_text(names, rows).rstrip("\n"))
    elif as_csv:
        out.line(csv_text(names, rows).rstrip("\n"))
    elif names:
        out.line(table_text(names, rows, 60 if sys.stdout.isatty() else 1_000_000).rstrip("\n"))



@main.command()
@click.argument("root")
@click.option("--otlp-endpoint", "endpoint", required=True, metavar="URL", help="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False), help="Position file (default: $XDG_STATE_HOME/crabview/ship-<store>.json); never inside the store.")
@click.option("--with-content", is_flag=True, help="Include message content, tool arguments and results.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds per export attempt.")
@click.option("--max-backoff", default=30.0, show_default=True, type=click.FloatRange(min=0.1), help="Longest wait between retries, in seconds.")
@click.option("--poll", is_flag=True, help="Poll instead of inotify (network filesystems).")
def ship(root: str, endpoint: str, state_path: str | None, with_content: bool, timeout: float, max_backoff: float, poll: bool) -> None:
    """Follow ROOT live and send each finished turn as OTLP traces (GenAI conventions).

    Sends what is not sent yet, then every turn as its done event lands,
    until Ctrl-C or SIGTERM. The position survives restarts; when the
    endpoint is down the turns wait and are retried with backoff.
    """
    import asyncio

    try:
        from .data.ship import ShipError, Shipper, ShipState, check_state_path, default_state_path, lock_state, make_exporter
        from .data.otlp import store_identity
    except ImportError as e:  # pragma: no cover - an install without the [data] extra
        _fail(f"crabview ship needs {e.name}: pip install 'crabview[data]'")
    if not endpoint.startswith(("http://", "https://")):
        _fail(f"--otlp-endpoint {endpoint}: give an http:// or https:// URL (OTLP/HTTP)")
    store = _open_store(root)
    identity = store_identity(store)
    path = Path(state_path).expanduser() if state_path else default_state_path(identity)
    try:
        check_state_path(path, store)
        _lock = lock_state(path)  # held until exit  # noqa: F841
        state = ShipState(path, identity).load()
    except ShipError as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"{path}: cannot write the state file: {e.strerror or e}")
    try:
        # written once before anything is sent: a position that cannot be
        # kept would make every batch the endpoint accepts go out again
        state.save()
    except OSError as e:
        _fail(f"{path}: cannot write the state file: {e.strerror or e}")
    shipper = Shipper(store, endpoint, state, make_exporter(endpoint, timeout), sys.stderr,
                      with_content=with_content, max_backoff=max_backoff, poll=poll)
    try:
        code = asyncio.run(shipper.run())
    except KeyboardInterrupt:
        code = 0
    except OSError as e:
        _fail(f"{path}: cannot write the state file: {e.strerror or e}")
    sys.exit(code)


def run() -> None:  # console-script entry point
    """``main`` with a last resort: whatever a command misses (an
    unreadable directory, a bug) ends as one line on stderr and exit 2,
    never a traceback that quotes store data."""
    if sys.stdout is None:  # started with fd 1 closed (`crabview ls >&-`)
        out.error("cannot write to stdout: it is closed")
        sys.exit(2)
    try:
        main()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`| head`): end quietly
        out.silence_stdout()
        sys.exit(1)
    except out.OutputError as e:
        out.error(str(e))
        out.silence_stdout()
        sys.exit(2)
    except OSError as e:
        out.error(_os_error_message(e))
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - the last resort, by design
        out.error(f"internal error ({type(e).__name__}): {one_line(str(e), 300)}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    run()
