"""Set-up and CI tell the truth (issue 12): README commands, .ci/run, capabilities."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    m = re.search(r"```sh\n(.*?)```", text, re.S)
    assert m, "README has no ```sh block"
    return [line for line in m.group(1).splitlines() if line.strip()]


def test_readme_starts_with_two_venv_commands() -> None:
    text = (REPO / "README.md").read_text()
    assert text.index("```sh") < text.index("\n## "), "the set-up commands come first"
    cmds = readme_commands()
    assert len(cmds) == 2, cmds
    install_ui, install_tests = cmds
    for c in cmds:
        # a project-local venv: works on an externally managed system Python,
        # needs nothing activated, never touches the global packages
        assert c.startswith("python3 -m venv .venv && .venv/bin/pip install "), c
        assert " pip install" not in c.replace(".venv/bin/pip install", "")
    assert install_ui.endswith(".venv/bin/crabview demo")
    assert "'.[test,data-test]'" in install_tests and install_tests.endswith(".venv/bin/python -m pytest -q -n auto")


def test_ci_runs_readme_command_2_verbatim() -> None:
    script = (REPO / ".ci" / "run").read_text()
    # the same extraction .ci/run performs, run by bash on the real README
    line = next(x for x in script.splitlines() if x.startswith("cmd=$("))
    r = subprocess.run(["bash", "-c", f"{line}\nprintf %s \"$cmd\""], cwd=REPO, capture_output=True, text=True, check=True)
    assert r.stdout == readme_commands()[1]
    assert 'eval "$cmd"' in script
    assert "pip install" not in script.replace("$cmd", "")  # no install of its own into any Python


def test_snapshot_renderers_are_pinned_to_the_installed_minor() -> None:
    deps = (REPO / "pyproject.toml").read_text()
    for pkg in ("textual", "rich"):
        major, minor = version(pkg).split(".")[:2]
        m = re.search(rf'"{pkg}>=([\d.]+),<([\d.]+)"', deps)
        assert m, f"{pkg} is not pinned to a minor version"
        assert m.group(1).split(".")[:2] == [major, minor] and m.group(2) == f"{major}.{int(minor) + 1}", m.group(0)


def _path_without(tmp_path: Path, hidden: set[str]) -> str:
    """A PATH that has every program of /usr/bin but ``hidden`` (merged /usr: /bin is the same)."""
    d = tmp_path / "bin"
    d.mkdir()
    for name in os.listdir("/usr/bin"):
        if name not in hidden:
            os.symlink(os.path.join("/usr/bin", name), d / name)
    return str(d)


def _pytest(tmp_path: Path, env_ci: str | None, *tests: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = _path_without(tmp_path, {"tmux", "fusermount3"})
    if env_ci is not None:
        env["CI"] = env_ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


TESTS_NEEDING_TOOLS = ("tests/test_tui_tmux.py", "tests/test_never_writes.py::test_mount_leaves_no_trace")


def test_missing_fuse_and_tmux_fail_under_ci(tmp_path: Path) -> None:
    r = _pytest(tmp_path, "true", *TESTS_NEEDING_TOOLS)
    assert r.returncode == 1, r.stdout[-2000:]
    assert "CI=true and this test needs tmux: tmux is not on PATH" in r.stdout
    assert "CI=true and this test needs FUSE: fusermount3 is not on PATH" in r.stdout
    assert " passed" not in r.stdout and "skipped" not in r.stdout


def test_missing_fuse_and_tmux_skip_with_the_reason_outside_ci(tmp_path: Path) -> None:
    r = _pytest(tmp_path, None, "-rs", *TESTS_NEEDING_TOOLS)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "needs tmux: tmux is not on PATH" in r.stdout and "needs FUSE: fusermount3 is not on PATH" in r.stdout
    assert "2 skipped" in r.stdout
