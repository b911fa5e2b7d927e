"""The live stress writer and the checker of a followed stream (tests and benchmarks only).

``StressWriter`` is a daemon-like writer under fire: steps round-robin into
N sessions at a fixed rate (tmp + rename), with what a real machine does to
a store: crashes that leave tmp files, meta and memory.db rewritten,
sessions deleted and recreated, the root replaced (``mv ROOT ROOT.old;
mkdir ROOT`` and a daemon starting afresh), the root and single sessions
renamed away and back, steps rewritten in place, and sessions that are
symlinks to directories elsewhere. ``compare_stream`` counts what a
follower lost, duplicated or reordered.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from crabview.demo import DaemonWriter
from crabview.store import models as m
from crabview.store.decode import encode

ATTACKS = ("crash", "meta", "compact", "recreate", "root_replace", "root_away", "session_away", "rewrite")
RECREATED = "--recreated--"


def _text(i: int, what: str = "step") -> m.HistoryEntry:
    return m.HistoryEntry(message=m.Message("assistant", [m.TextBlock(f"{what} {i}")]))


class StressWriter:
    """Writes and attacks a store; ``written`` records each final step per slug.

    ``written[slug]`` is [(step name, time of its rename)] in order, with a
    ``RECREATED`` marker where the session started again from step 1 (it was
    deleted and recreated, or the whole root was replaced). ``rewrites``
    counts the in-place rewrites per slug, each of which a follower must
    print once more, marked rewritten. Times are CLOCK_MONOTONIC.
    """

    def __init__(
        self,
        root: Any,
        sessions: int = 20,
        rate: float = 200.0,
        seed: int = 1,
        attacks: tuple[str, ...] = ATTACKS,
        symlinked: int = 2,
        structural_every: float = 1.5,
    ):
        self.root = Path(root)
        self.w = DaemonWriter(self.root)
        self.r = random.Random(seed)
        self.rate = rate
        self.attacks = set(attacks)
        self.structural_every = structural_every
        self.agents = {}
        self.slugs: list[str] = []
        for i in range(sessions):
            agent, user = f"agent{i % 4}", f"user{i}"
            slug = self.w.create_session(agent, user)
            self.agents[slug] = (agent, user)
            self.slugs.append(slug)
        # some sessions are symlinks to directories outside the store
        self.links_dir = self.root.parent / f"{self.root.name}.linked"
        self.links_dir.mkdir(parents=True, exist_ok=True)
        for slug in self.slugs[:symlinked]:
            target = self.links_dir / slug
            os.rename(self.w.sessions_dir / slug, target)
            (self.w.sessions_dir / slug).symlink_to(target, target_is_directory=True)
        self.written: dict[str, list[tuple[str, float]]] = {s: [] for s in self.slugs}
        self.entries: dict[str, list[tuple[str, float]]] = {s: [] for s in self.slugs}  # current generation's entries
        self.rewrites: dict[str, int] = {s: 0 for s in self.slugs}
        self.counts = {
            "steps": 0,
            "crashes": 0,
            "meta_rewrites": 0,
            "compactions": 0,
            "recreated": 0,
            "root_replaced": 0,
            "root_away_and_back": 0,
            "session_away_and_back": 0,
            "rewrites": 0,
            "symlinked": symlinked,
        }
        self.doomed: dict[str, float] = {}
        self.rewritten_at: dict[tuple[str, str], float] = {}
        self.generation = 0
        self.stop = threading.Event()

    # -- attacks ------------------------------------------------------------------

    def _recreate(self, slug: str) -> None:
        """Delete a session and create it again; the writer's counter restarts like the daemon's."""
        w = self.w
        path = w.sessions_dir / slug
        if path.is_symlink():
            shutil.rmtree(self.links_dir / slug)
            path.unlink()
        else:
            shutil.rmtree(path)
        path.mkdir()
        w._counters.pop(slug, None)
        w.write_meta(slug, m.Meta(agent="x", created_by="y", created_at=w.tick(0)))
        self.written[slug].append((RECREATED, time.monotonic()))
        self.entries[slug] = []
        self.counts["recreated"] += 1

    def _replace_root(self) -> None:
        """mv ROOT ROOT.old; mkdir ROOT; a daemon starts afresh there (sessions from step 1)."""
        time.sleep(0.4)  # the daemon stops before its root is moved (longer than a poll: polled dirs are seen)
        self.generation += 1
        os.rename(self.root, self.root.parent / f"{self.root.name}.old{self.generation}")
        self.root.mkdir()
        self.w = DaemonWriter(self.root)
        for slug in self.slugs:
            agent, user = self.agents[slug]
            assert self.w.create_session(agent, user) == slug
            self.written[slug].append((RECREATED, time.monotonic()))
            self.entries[slug] = []
        self.doomed.clear()
        self.counts["root_replaced"] += 1

    def _root_away_and_back(self) -> None:
        away = self.root.parent / f"{self.root.name}.away"
        os.rename(self.root, away)
        time.sleep(self.r.uniform(0.05, 0.4))
        os.rename(away, self.root)
        self.counts["root_away_and_back"] += 1

    def _session_away_and_back(self, slug: str) -> None:
        parked = self.root.parent / f"{self.root.name}.parked"
        os.rename(self.w.sessions_dir / slug, parked)
        time.sleep(self.r.uniform(0.05, 0.4))
        os.rename(parked, self.w.sessions_dir / slug)
        self.counts["session_away_and_back"] += 1

    def _rewrite(self, slug: str, i: int) -> bool:
        """Rewrite an entry in place (same inode) that a follower has had time to print."""
        now = time.monotonic()
        old = [(n, t) for n, t in self.entries[slug] if now - t > 0.5 and now - self.rewritten_at.get((slug, n), 0) > 1.0]
        if not old:
            return False
        name, _t = self.r.choice(old)
        with open(self.w.sessions_dir / slug / name, "r+b") as f:
            f.write(encode(_text(i, "rewritten in place")))
            f.truncate()
        self.rewritten_at[(slug, name)] = now
        self.rewrites[slug] += 1
        self.counts["rewrites"] += 1
        return True

    # -- the run --------------------------------------------------------------------

    def run(self, seconds: float) -> None:
        r = self.r
        start = time.monotonic()
        next_t = start
        next_structural = start + self.structural_every
        i = 0
        structural = [a for a in ("root_replace", "root_away", "session_away") if a in self.attacks]
        while not self.stop.is_set() and time.monotonic() - start < seconds:
            slug = self.slugs[i % len(self.slugs)]
            i += 1
            now = time.monotonic()
            if structural and now >= next_structural and not self.doomed:
                what = r.choice(structural)
                if what == "root_replace":
                    self._replace_root()
                elif what == "root_away":
                    self._root_away_and_back()
                else:
                    self._session_away_and_back(slug)
                next_structural = time.monotonic() + self.structural_every
                next_t = time.monotonic()
                continue
            due = self.doomed.get(slug)
            if due is not None:
                if now >= due:
                    self._recreate(slug)
                    del self.doomed[slug]
                continue  # no writes to a session about to be deleted
            w = self.w
            roll = r.random()
            if roll < 0.01 and "crash" in self.attacks:
                w.leave_tmp(slug, encode(m.HistoryEntry(message=m.Message("user", [m.TextBlock("torn")]))))
                self.counts["crashes"] += 1
            elif roll < 0.015 and "compact" in self.attacks:
                name = w.add_archive(slug, f"summary {i}")
                p = w.append(slug, m.Compact(archive_name=name, archived_at=w.tick(0)))
                self.written[slug].append((p.name, time.monotonic()))
                self.counts["compactions"] += 1
                self.counts["steps"] += 1
            elif roll < 0.017 and "recreate" in self.attacks and len(self.doomed) < 2:
                self.doomed[slug] = now + 0.5  # stop writing, delete in half a second
            elif roll < 0.022 and "rewrite" in self.attacks and self._rewrite(slug, i):
                pass
            else:
                p = w.append(slug, _text(i))
                t = time.monotonic()
                self.written[slug].append((p.name, t))
                self.entries[slug].append((p.name, t))
                self.counts["steps"] += 1
            if roll > 0.8 and "meta" in self.attacks and slug in w._metas:
                w.touch_meta(slug, message_count=i)
                self.counts["meta_rewrites"] += 1
            next_t += 1.0 / self.rate
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def compare_stream(
    written: dict[str, list[tuple[str, float]]],
    got: dict[str, list[tuple[str, float]]],
    rewrites: dict[str, int] | None = None,
    got_rewritten: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Lost / duplicated / reordered steps and latencies of a followed stream.

    ``got`` maps slug -> [(file, time seen)] for every step line a follower
    printed that is not marked rewritten (tmp leftovers are ignored). A
    recreated session restarts its names at step-000001, so lines are
    matched to generations greedily, in order: a line belongs to the current
    generation while that generation still expects its name, else to the
    next one that does. ``rewrites``/``got_rewritten``: in-place rewrites
    done and rewritten lines printed, per slug (each must be printed once).
    """
    lost = dup = reordered = 0
    lat: list[float] = []
    for slug, seq in written.items():
        gens: list[dict[str, float]] = [{}]
        for name, t in seq:
            if name == RECREATED:
                gens.append({})
            else:
                gens[-1][name] = t
        seen = [(f, t) for f, t in got.get(slug, []) if ".tmp." not in f]
        g = 0
        matched: list[set[str]] = [set() for _ in gens]
        last: list[str | None] = [None for _ in gens]
        for f, t in seen:
            k = g
            while k < len(gens) and (f not in gens[k] or f in matched[k]):
                k += 1
            if k == len(gens):
                dup += 1
                continue
            g = k
            matched[k].add(f)
            if last[k] is not None and f < last[k]:
                reordered += 1
            last[k] = f
            lat.append((t - gens[k][f]) * 1e3)
        lost += sum(len(gen) - len(mt) for gen, mt in zip(gens, matched))
    rw_missed = rw_extra = 0
    for slug, n in (rewrites or {}).items():
        k = (got_rewritten or {}).get(slug, 0)
        rw_missed += max(0, n - k)
        rw_extra += max(0, k - n)
    return {
        "lost": lost,
        "duplicated": dup,
        "reordered": reordered,
        "latencies_ms": lat,
        "rewrites_missed": rw_missed,
        "rewrites_extra": rw_extra,
    }
