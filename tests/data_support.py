"""Stores for the data tests (sql, otlp, ship), written by the daemon-like writer."""

from __future__ import annotations

import random
from pathlib import Path

from crabview.demo import DaemonWriter, turn
from crabview.store import models as m


def build_varied_store(root: Path, seed: int, sessions: int = 8) -> DaemonWriter:
    """Sessions with turns, compacts (found and missing archives), torn and
    garbage steps, tmp leftovers, gaps, a missing meta: every table gets rows."""
    rng = random.Random(seed)
    w = DaemonWriter(root)
    for k in range(sessions):
        agent = rng.choice(["Crab", "coder", "researcher"])
        slug = w.create_session(agent, rng.choice(["user", "tg:1", "delegate:7"]), f"session {k}")
        for i in range(rng.randrange(0, 4)):
            turn(w, slug, rng, rng.randrange(100))
            r = rng.random()
            if r < 0.2:
                w.compact(slug, f"summary {k}.{i}")
            elif r < 0.3:
                w.append(slug, m.Compact(archive_name=f"lost-{k}-{i}", archived_at=w.tick(1)))
            elif r < 0.4:
                w.append(slug, m.LegacyCompact(f"legacy summary {k}", "t", w.tick(1)))
            elif r < 0.5:
                w.append_raw(slug, b'{"message": {"role": "user", "content": [{"type": "text", "text": "torn')
            elif r < 0.55:
                w.leave_tmp(slug, b'{"message":{"role":"user","content":[]}}', whole=rng.random() < 0.5)
            elif r < 0.6:
                w._counters[slug] = w._next_step(slug) + 1  # a gap
            elif r < 0.65:
                w.append(slug, m.UserSteeredEvent("steer \x1b[31m", w.tick(1)))
    orphan = w.sessions_dir / "crab_ghost_1"
    orphan.mkdir()
    w.append(orphan.name, m.HistoryEntry(message=m.Message("user", [m.TextBlock("no meta here")])))
    return w
