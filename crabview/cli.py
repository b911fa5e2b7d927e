"""crabview's command line. ``crabview [ROOT]`` opens the TUI; the rest are for scripts.

Nothing here imports Textual unless the TUI is asked for.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.cells import cell_len

from .progress import Progress
from .render.safe import one_line, visible
from .store.layout import StoreError, parse_slug, resolve
from .store.store import Store


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"crabview: {visible(message, multiline=False)}", err=True)
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
    """SESSION may be a session directory or a slug under ROOT."""
    p = Path(session).expanduser()
    if p.exists() and not p.is_dir():
        _fail(f"{session}: not a session directory (it is a file; sessions are directories under sessions/)")
    if p.is_dir() and (root is None or os.sep in session or session in (".", "..")):
        try:
            layout = resolve(p)
        except StoreError as e:
            _fail(str(e))
        if layout.session is None:
            if (p / "meta").exists() or p.parent.name == "sessions":
                from .store.layout import StoreLayout

                rootp = p.parent.parent if p.parent.name == "sessions" else None
                layout = StoreLayout(root=rootp, sessions_dir=p.parent, session=p.name)
            else:
                _fail(f"{session}: not a session directory (no meta, no step- files)")
        return Store(layout), layout.session  # type: ignore[return-value]
    store = _open_store(root)
    if not (store.sessions_dir / session).is_dir():
        _fail(f"no session {session!r} under {store.sessions_dir}")
    return store, session


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
    """JSON to stdout. Names that are not valid UTF-8 reach us as lone
    surrogates; they are written as ``\\udcXX`` escapes, which keeps the
    output valid JSON instead of crashing the encoder."""
    text = json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    data = text.encode("utf-8", "backslashreplace")
    if out is not None:
        out.write(data)
        out.flush()
    else:  # e.g. click's test runner with a text stream
        sys.stdout.write(data.decode("utf-8"))


class DefaultGroup(click.Group):
    """``crabview [ROOT]`` means ``crabview ui [ROOT]``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["ui", *args]
        return super().parse_args(ctx, args)


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
    app.run()


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


def _rel_time(ts: str) -> str:
    return ts.replace("T", " ")[:19] if ts else "-"


@main.command()
@click.argument("root", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of sessions.")
@click.option("--quick", is_flag=True, help="Meta and names only: skip decoding steps (no compact/problem counts).")
def ls(root: str | None, as_json: bool, quick: bool) -> None:
    """List sessions: agent, sender, seq, title, steps, compacts, problems, updated."""
    store = _open_store(root)
    rows: list[dict[str, Any]] = []
    latest: dict[tuple[str, str], str] = {}
    with Progress("reading sessions") as progress:
        if quick:
            for sm in store.summaries(progress):
                rows.append(
                    _ls_row(sm.slug, sm.listed, sm.meta_status, sm.meta,
                            steps=sm.step_names, tmp_files=sm.tmp_names, compacts=None, problems=None)
                )
        else:
            for s in store.iter_sessions(progress):
                rows.append(
                    _ls_row(s.slug, s.listed, s.meta_status, s.meta, load=s.load_status, steps=len(s.steps),
                            compacts=s.compact_count, problems=len(s.problems),
                            replay_entries=len(s.replay_indices), archive=s.archive)
                )
    for r in rows:
        if r["agent"] is not None:
            key = (r["agent"], r["sender"])
            if key not in latest:
                latest[key] = store.latest(r["agent"], r["sender"]) or ""
            r["latest"] = latest[key] == r["slug"]
        else:
            r["latest"] = False
    if as_json:
        _dump(rows)
        return
    if not rows:
        click.echo(f"no sessions under {store.sessions_dir}")
        return
    # Columns as wide as their widest cell (cut to fit on a terminal, never
    # in a pipe), padded by display cells: a long or wide title shifts nothing.
    slugs = [one_line(r["slug"], _width(32)) for r in rows]
    titles = [one_line(r["title"] or "-", _width(28)) for r in rows]
    ws = max([cell_len("SESSION")] + [cell_len(x) for x in slugs])
    wt = max([cell_len("TITLE")] + [cell_len(x) for x in titles])
    click.echo(f"{_pad('SESSION', ws)} {_pad('TITLE', wt)} {'STEPS':>6} {'CMP':>4} {'PROB':>5}  {'UPDATED':<20} FLAGS".rstrip())
    for r, slug_text, title_text in zip(rows, slugs, titles):
        flags = []
        if not r["listed"]:
            flags.append("hidden")
        if r["latest"]:
            flags.append("latest")
        if r.get("load") == "error":
            flags.append("load-fails")
        cmp_ = "?" if r["compacts"] is None else str(r["compacts"])
        prob = "?" if r["problems"] is None else str(r["problems"])
        click.echo(
            f"{_pad(slug_text, ws)} {_pad(title_text, wt)} {r['steps']:>6} {cmp_:>4} {prob:>5}  "
            f"{_rel_time(one_line(r['updated'] or '', 30)):<20} {','.join(flags)}".rstrip()
        )


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal cells (wide characters count two)."""
    return text + " " * max(0, width - cell_len(text))


# --- show -------------------------------------------------------------------------


@main.command()
@click.argument("session")
@click.option("--root", help="Store root when SESSION is a slug.")
@click.option("--json", "as_json", is_flag=True, help="The session as one JSON object.")
@click.option("--all", "mode", flag_value="all", default=True, help="Every step file (default).")
@click.option("--replay", "mode", flag_value="replay", help="Only what the daemon would replay.")
def show(session: str, root: str | None, as_json: bool, mode: str) -> None:
    """Show one session: every step with the daemon's verdict, or just the replay."""
    from .render.text import ToolIndex, session_json, step_text, summary

    store, slug = _session_target(session, root)
    s = store.load_session(slug)
    if as_json:
        d = session_json(s)
        if mode == "replay":
            keep = set(d["replay_files"])
            d["steps"] = [st for st in d["steps"] if st["file"] in keep]
            d["archive_content"] = s.archive_text
        _dump(d)
        return
    meta = s.meta
    click.echo(f"session {visible(s.slug)}  ({visible(str(s.path))})")
    if meta is not None:
        click.echo(f"  agent {one_line(meta.agent)} · created by {one_line(meta.created_by)} · {one_line(meta.created_at)} · title {one_line(meta.title) or '-'}")
    click.echo(f"  meta: {s.meta_status}" + (f" ({one_line(s.meta_error or '')})" if s.meta_error else "") + f" · daemon load: {s.load_status}" + ("" if s.listed else " · hidden from the daemon's listing"))
    if s.load_error:
        click.echo(f"  load: {one_line(s.load_error, 300)}")
    if s.boundary is not None:
        found = {True: "in memory.db", False: "MISSING from memory.db", None: "legacy, no archive"}[s.archive_found]
        click.echo(f"  replay starts at {s.boundary.name}; archive {s.archive or '-'} ({found})")
    click.echo(f"  next step number: {s.next_step} · replayed entries: {len(s.replay_indices)} of {len(s.steps)} files")
    tools = ToolIndex(s.steps)
    click.echo("")
    if mode == "replay":
        if s.archive is not None:
            click.echo(f"[archive {visible(s.archive)}]\n{visible(s.archive_text or '')}\n")
        for i in s.replay_indices:
            st = s.steps[i]
            click.echo(f"── {st.name}")
            click.echo(step_text(st, tools))
            click.echo("")
        return
    from .render.text import KIND_GLYPH

    start = s.replay_start
    for i, st in enumerate(s.steps):
        if i == start and start > 0:
            click.echo("──────── replay starts here ────────")
        mark = " " if s.is_replayed(i) or st.kind != "entry" else "·"
        click.echo(f"{KIND_GLYPH[st.kind]}{mark}{st.name:<22} {summary(st, tools, _width(120))}")
    click.echo("")
    click.echo("● entry  ◆ event  ═ compact  ≡ legacy compact  ✗ unparsable (skipped)  ⊘ unreadable (load fails)  · not replayed")
    if s.problems:
        click.echo("")
        click.echo(f"problems ({len(s.problems)}):")
        for p in s.problems:
            click.echo(f"  [{p.code}] {p.file or ''} {one_line(p.reason, _width(200))}")


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
    from .render.text import session_json
    from .store.problems import SEVERITIES, at_least

    store = _open_store(target)
    sessions: dict[str, Any] = {}
    problems: list[Any] = []
    store_problems = store.store_problems()
    with Progress("checking sessions") as progress:
        for s in store.iter_sessions(progress):
            if as_json:
                sessions[s.slug] = session_json(s)
            problems.extend(s.problems)
    problems = store_problems + problems
    counts = {sev: 0 for sev in SEVERITIES}
    for p in problems:
        counts[p.severity] = counts.get(p.severity, 0) + 1
    failing = sum(1 for p in problems if at_least(p.severity, fail_on))
    if as_json:
        import msgspec

        _dump(
            {
                "root": str(store.layout.root) if store.layout.root else None,
                "sessions_dir": str(store.sessions_dir),
                "memory": {"status": store.memory.status, "error": store.memory.error, "entries": len(store.memory.entries)},
                "store_problems": [msgspec.to_builtins(p) for p in store_problems],
                "sessions": sessions,
                "problem_count": len(problems),
                "severity_counts": counts,
                "fail_on": fail_on,
                "failing": failing,
            }
        )
    else:
        marks = {"error": "ERROR", "warning": "warning", "info": "info"}
        for p in problems:
            where = "/".join(x for x in (p.slug, p.file) if x)
            click.echo(f"{marks.get(p.severity, p.severity):<7} {p.code:<22} {one_line(where, _width(60))}: {one_line(p.reason, _width(240))}")
        n = len(problems)
        parts = ", ".join(f"{counts[sev]} {sev if sev == 'info' or counts[sev] == 1 else sev + 's'}" for sev in SEVERITIES if counts[sev])
        sessions_n = len(list(store.session_entries()))
        click.echo(
            f"{n} problem{'s' if n != 1 else ''}{' (' + parts + ')' if parts else ''} in {sessions_n} session{'s' if sessions_n != 1 else ''}"
            + (f"; {failing} at --fail-on {fail_on} or worse" if failing else ""),
            err=True,
        )
    sys.exit(1 if failing else 0)


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
        click.echo("no session", err=True)
        sys.exit(1)
    click.echo(visible(slug, multiline=False))
    if not (store.sessions_dir / slug / "meta").is_file():
        click.echo(f"note: {visible(slug, multiline=False)} has no meta: the daemon picks it, but its load returns nothing", err=True)


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
        click.echo(f"memory.db {mem.status}: {mem.error}", err=True)
        sys.exit(0 if mem.status == "missing" else 1)
    for e in mem.entries:
        aliases = f" (aliases: {', '.join(one_line(a, 40) for a in e.aliases)})" if e.aliases else ""
        click.echo(f"{e.id:>5} {e.kind:<8} {one_line(e.name, _width(40)):<40} {len(e.content):>7} chars{aliases}")


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
    click.echo(visible(e.content))


# --- demo ---------------------------------------------------------------------------


@main.command()
@click.argument("path", required=False)
@click.option("--live", is_flag=True, help="Keep writing into the demo store like a running daemon.")
@click.option("--no-ui", is_flag=True, help="Only write the store and print where it is.")
def demo(path: str | None, live: bool, no_ui: bool) -> None:
    """Write the demo store (to PATH or a temp dir) and open it."""
    from .demo import build_demo

    if path is None:
        path = tempfile.mkdtemp(prefix="crabview-demo-")
    p = Path(path)
    if p.exists() and any(p.iterdir()):
        if not (p / "sessions").is_dir():
            _fail(f"{p} exists and is not empty; give an empty or new directory")
        click.echo(f"using the existing store at {p}", err=True)
    else:
        build_demo(p)
        click.echo(f"demo store written to {p}", err=True)
    if no_ui or not sys.stdout.isatty():
        click.echo(str(p))
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
@click.option("-n", "lines", default=10, show_default=True, type=click.IntRange(min=0), help="How many steps to print first.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new steps as they land.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step (show --json fields + slug).")
@click.option("--poll", is_flag=True, help="Poll instead of inotify (network filesystems).")
def tail(target: str | None, root: str | None, lines: int, follow: bool, as_json: bool, poll: bool) -> None:
    """Print the last steps of a session (or of every session under a root); -f follows.

    TARGET is a root, a session directory, or a session slug under --root
    (default $CRABTALK_HOME, then ~/.crabtalk).
    """
    from .tail import run_tail

    if target is not None and os.sep not in target and (root is not None or not os.path.exists(target)):
        store, slug = _session_target(target, root)
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
    try:
        pid = do_mount(store, mountpoint, foreground=foreground, debug=debug)
    except MountError as e:
        _fail(str(e), e.code)
    if not foreground:
        mp = os.path.abspath(mountpoint)
        click.echo(f"mounted {visible(str(store.layout.root or store.sessions_dir), multiline=False)} at {visible(mp, multiline=False)} (pid {pid}); unmount with: crabview umount {visible(mp, multiline=False)}", err=True)


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


@main.command()
@click.argument("session")
@click.option("--root", help="Store root when SESSION is a slug.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "jsonl"]), default="md", show_default=True)
@click.option("--all", "mode", flag_value="all", help="Every step file (default for md and html).")
@click.option("--replay", "mode", flag_value="replay", help="Only what the daemon would replay (default for jsonl).")
@click.option("-o", "output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE instead of stdout.")
def export(session: str, root: str | None, fmt: str, mode: str | None, output: str | None) -> None:
    """Export one session as Markdown, HTML or JSONL (the mount's renderings).

    md is the mount's transcript.md; jsonl with --replay (its default) is the
    mount's replay.jsonl, with --all one step verdict per line; html is one
    self-contained page.
    """
    from .render import files as rf

    store, slug = _session_target(session, root)
    if mode is None:
        mode = "replay" if fmt == "jsonl" else "all"
    if output is not None:
        out_path = Path(output).expanduser()
        for forbidden in (store.sessions_dir, store.layout.root):
            if _inside(out_path, forbidden):
                _fail(f"{output}: refusing to write inside the store being inspected ({forbidden})")
    s = store.load_session(slug)
    if fmt == "md":
        data = rf.transcript_bytes(s, replay_only=(mode == "replay"))
    elif fmt == "jsonl":
        data = rf.replay_bytes(s) if mode == "replay" else rf.steps_jsonl_bytes(s)
    else:
        from .render.html import session_html

        data = rf.to_bytes(session_html(s, replay_only=(mode == "replay")))
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(out_path, "wb") as f:
            f.write(data)
    except OSError as e:
        _fail(f"{output}: {e.strerror or e}")
    click.echo(f"wrote {len(data):,} bytes to {visible(str(out_path), multiline=False)}", err=True)



def run() -> None:  # console-script entry point
    main()


if __name__ == "__main__":  # pragma: no cover
    main()
