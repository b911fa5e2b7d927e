"""The core (crabview.store) and the rendering layer never import Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import crabview.render
import crabview.store

REPO = Path(__file__).resolve().parents[1]


def _modules(pkg) -> list[str]:
    return [pkg.__name__] + [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]


def test_store_and_render_do_not_import_textual() -> None:
    mods = _modules(crabview.store) + _modules(crabview.render)
    assert "crabview.store.decode" in mods and "crabview.render.text" in mods
    code = (
        "import importlib, sys\n"
        f"for name in {mods!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('textual'))\n"
        "print('BAD', bad[:5]) if bad else print('CLEAN', len(sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("CLEAN"), r.stdout


def test_the_probe_would_see_textual() -> None:
    # the check above can fail: importing textual does show up in sys.modules
    code = "import sys, textual; print(any(m.startswith('textual') for m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.stdout.strip() == "True"
