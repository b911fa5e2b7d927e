"""Hostile-input benchmark: time and peak extra RSS of every view of the worst steps.

Cases: a 1,000,000-deep step (``[`` x 1e6 then ``]`` x 1e6) and a 10 MB
``[[[…`` step, rendered as salvage, raw view, bytes (hex), detail text,
mount files (steps/<file>.unparsable.txt, transcript.md, replay.jsonl) and
exports (md, html, jsonl). Each case runs in a fresh child process so its
peak RSS is its own; the floor is reading the file (same run).

Targets (issue 9): every case < 1 s and < 100 MB over the floor.
Run: python tests/bench/hostile.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
root, name, view = sys.argv[2], sys.argv[3], sys.argv[4]
from crabview.store.store import Store
from crabview.store.fileio import read_file
store = Store.open(root)
slug = "deep_user_1"
path = os.path.join(root, "sessions", slug, name)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
raw, _ = read_file(path)
if view == "floor":
    pass
else:
    s = store.load_session(slug)
    st = [x for x in s.steps if x.name == name][0]
    if view == "salvage":
        from crabview.store.decode import salvage
        from crabview.render.files import salvage_notes
        from crabview.render.jsonenc import pretty
        sv = salvage(raw); pretty(sv.json, max_chars=200_000); salvage_notes(sv)
    elif view == "raw":
        from crabview.tui.widgets.detail import raw_view
        raw_view(raw)
    elif view == "bytes":
        from crabview.tui.widgets.detail import hex_view
        hex_view(raw, st.offset, 16)
    elif view == "detail":
        from crabview.render.text import step_text, summary
        step_text(st); summary(st)
    elif view == "mount-step":
        from crabview.render import files as rf
        rf.unparsable_bytes(st, raw)
    elif view == "mount-session":
        from crabview.render import files as rf
        rf.transcript_bytes(s); rf.replay_bytes(s); rf.problems_bytes(s.problems)
    elif view == "export-md":
        from crabview.render import files as rf
        rf.transcript_bytes(s)
    elif view == "export-html":
        from crabview.render.html import session_html
        session_html(s)
    elif view == "export-jsonl":
        from crabview.render import files as rf
        rf.steps_jsonl_bytes(s)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": dt, "peak_mb": peak / 1024, "base_mb": base / 1024}))
"""

VIEWS = ["floor", "salvage", "raw", "bytes", "detail", "mount-step", "mount-session", "export-md", "export-html", "export-jsonl"]


def build(root: Path) -> dict[str, str]:
    from crabview.demo import DaemonWriter

    w = DaemonWriter(root)
    slug = w.create_session("deep", "user")
    a = w.append_raw(slug, b"[" * 1_000_000 + b"]" * 1_000_000)
    b = w.append_raw(slug, b"[" * 10_000_000)
    return {"1,000,000-deep step": a.name, "10 MB [[[ step": b.name}


def main() -> int:
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="crabview-bench-hostile-") as d:
        root = Path(d) / "root"
        cases = build(root)
        worst_t, worst_m = 0.0, 0.0
        print(f"{'case':<22} {'view':<14} {'seconds':>8} {'peak MB':>8} {'extra MB':>9}")
        for label, name in cases.items():
            floor = None
            for view in VIEWS:
                r = subprocess.run([sys.executable, "-c", CHILD, str(REPO), str(root), name, view], capture_output=True, text=True, timeout=600)
                if r.returncode != 0:
                    print(f"{label:<22} {view:<14} FAILED: {r.stderr.strip().splitlines()[-1:]}")
                    worst_t = float("inf")
                    continue
                got = json.loads(r.stdout)
                if view == "floor":
                    floor = got
                extra = got["peak_mb"] - floor["peak_mb"] if floor else 0.0
                if view != "floor":
                    worst_t, worst_m = max(worst_t, got["seconds"]), max(worst_m, extra)
                print(f"{label:<22} {view:<14} {got['seconds']:>8.3f} {got['peak_mb']:>8.1f} {extra:>9.1f}")
        ok = worst_t < 1.0 and worst_m < 100
        print(f"\nworst: {worst_t:.3f} s, {worst_m:.1f} MB over the read floor (targets < 1 s, < 100 MB): {'met' if ok else 'MISSED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
