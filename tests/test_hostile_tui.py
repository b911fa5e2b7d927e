"""The TUI over a hostile store: Pilot (palette, deep steps, unreadable
sessions/) and one real terminal under tmux (capture-pane -e: no raw
ESC/BEL from the store; the palette shows markup literally; SIGTERM
restores the terminal)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.capabilities import require_tmux
from support.hostile import CLICK_SCREENSHOT, build_hostile_store, drop_dac_powers
from tui_support import SIZE, fixed_app, see, wait_for

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    return build_hostile_store(tmp_path_factory.mktemp("hostile-tui"), huge=False)


async def test_palette_shows_click_markup_literally_and_it_never_acts(hostile, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = fixed_app(hostile.root)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(app.summaries) >= 5)
        await pilot.press("ctrl+p")
        await pilot.press(*"open session")
        text = await see(pilot, "[@click=app.screenshot('x.svg')]X", "[@click=app.quit]Q")
        assert CLICK_SCREENSHOT in text
        # clicking every hit line: nothing is a link, nothing acts
        for y in range(2, 14):
            await pilot.click(offset=(30, y))
            await pilot.pause()
        assert app.is_running
    assert list(tmp_path.iterdir()) == []  # no screenshot was written
    assert not getattr(app, "worker_errors", [])


async def test_deep_steps_never_raise_in_the_tui(hostile) -> None:
    app = fixed_app(hostile.root, select=hostile.slugs["deep"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.model.slug == hostile.slugs["deep"])
        for key in ("b", "down", "b", "down", "r", "down", "b", "down", "r"):
            await pilot.press(key)
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        assert app.is_running and not getattr(app, "worker_errors", [])


def test_unreadable_sessions_dir_is_a_status_line_message(tmp_path: Path) -> None:
    """A child without DAC powers opens the TUI headless on a store whose sessions/ is mode 000."""
    h = build_hostile_store(tmp_path / "s", huge=False)
    for p in (tmp_path, tmp_path / "s", h.root):
        p.chmod(0o755)
    h.sessions.chmod(0)
    code = (
        "import asyncio, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from tui_support import fixed_app, screen_text\n"
        "from pathlib import Path\n"
        "async def main():\n"
        "    app = fixed_app(Path(sys.argv[1]))\n"
        "    async with app.run_test(size=(120, 36)) as pilot:\n"
        "        for _ in range(100):\n"
        "            await pilot.pause(0.05)\n"
        "            if app.worker_errors if hasattr(app, 'worker_errors') else False: break\n"
        "        await pilot.pause(0.2)\n"
        "        print(screen_text(app))\n"
        "        print('ERRORS', app.worker_errors)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        r = subprocess.run([sys.executable, "-c", code, str(h.root), str(REPO / "tests")], capture_output=True, text=True,
                           env=env, timeout=120, preexec_fn=drop_dac_powers, cwd=tmp_path)
    finally:
        h.sessions.chmod(0o755)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stdout + r.stderr
    assert "error: cannot read" in r.stdout and "Permission denied" in r.stdout, r.stdout[-3000:]


# --- a real terminal ---------------------------------------------------------------------




def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def _wait(pred, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_tmux_hostile_store_no_raw_escapes_palette_literal_and_sigterm_restores(hostile, tmp_path: Path) -> None:
    require_tmux()
    session = f"crabview-hostile-{os.getpid()}"
    # not exec'd: the pane stays alive after the app ends, so tmux reports
    # the terminal state the app left (a dead pane's cursor flag is tmux's own)
    cmd = f"{sys.executable} -m crabview {hostile.root}"
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO)}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", "sh", "-c", cmd + "; sleep 30"], check=True, env=env)
    subprocess.run(["tmux", "set-option", "-t", session, "remain-on-exit", "on"], capture_output=True)
    try:
        _wait(lambda: "huge meta" in _tmux("capture-pane", "-p", "-t", session) or "deep steps" in _tmux("capture-pane", "-p", "-t", session), what="the TUI")
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)  # open the selected session
        time.sleep(1.0)
        subprocess.run(["tmux", "send-keys", "-t", session, "C-p"], check=True)
        time.sleep(0.5)
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "open session"], check=True)
        _wait(lambda: "[@click=app.screenshot('x.svg')]X" in _tmux("capture-pane", "-p", "-t", session), what="the palette hit")
        pane = _tmux("capture-pane", "-p", "-e", "-t", session)
        # the store's own payloads never reach the terminal raw (the app's SGR colours do)
        for payload in ("\x1b]0;pwned", "\x1b[2J", "\x07", "\x1b]8;;https://evil", "\u202e", "\x9b", "\x85"):
            assert payload not in pane, repr(payload)
        assert _tmux("display", "-p", "-t", session, "#{pane_title}").strip() != "pwned"
        assert _tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "1"
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        shell = int(_tmux("display", "-p", "-t", session, "#{pane_pid}").strip())
        pid = int(subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()[0])
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: _tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "0", what="alternate screen off")
        time.sleep(0.3)
        flags = _tmux("display", "-p", "-t", session, "#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} #{mouse_standard_flag} #{mouse_sgr_flag} #{cursor_flag}").split()
        assert flags == ["0", "0", "0", "0", "0", "1"], flags
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


async def test_step_names_with_non_ascii_digits_open_and_number_as_the_daemon_does(tmp_path: Path) -> None:
    """``str.isdigit`` is true for ² and ١: such a name once crashed the timeline (int("00000²")) and
    ١٢٣٤٥٦ read as step 123456; the daemon parses neither as a number, so neither is a gap or a step number."""
    from crabview.demo import DaemonWriter
    from crabview.store import models as m

    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user")
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock("first")])))
    d = w.sessions_dir / slug
    for odd in ("step-00000²", "step-١٢٣٤٥٦", "step-99999٩"):
        (d / odd).write_bytes((d / "step-000001").read_bytes())
    app = fixed_app(tmp_path / "root", select=slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model is not None and len(app.model.steps) == 4)
        texts = [app.timeline.row_text(r) for r in range(1, app.timeline.row_count)]
        assert len(texts) == 4 and not any("missing" in t for t in texts), texts
        assert [t.split()[0] for t in texts[1:]] == ["00000²", "99999٩", "١٢٣٤٥٦"]  # names in byte order, not numbers
        app.timeline.focus()
        await pilot.press("colon", "²", "1", "enter")  # the prompt takes ASCII digits only
        await pilot.pause()
        assert app.model.steps[app.timeline.current_step()].name == "step-000001"
