"""A writer that behaves like the crabtalk daemon, and the demo store it builds.

This is the only code in crabview that writes, and it only ever writes into
stores it creates (the demo, test fixtures, benchmark stores). It follows
the daemon's habits: every file through ``<name>.tmp.<pid>.<nanos>`` and a
rename, step numbers from the counter rule, meta rewritten on each update,
memory.db rewritten whole through ``memory.db.tmp``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from pathlib import Path
from typing import Any, Iterable

from .store import models as m
from .store.decode import encode
from .store.layout import next_session_seq, sender_slug, step_file_name, step_number
from .store.memory import archive_name, encode_memory

BASE_TIME = dt.datetime(2026, 11, 20, 9, 0, 0, tzinfo=dt.timezone.utc)


def _ts(seconds: float) -> str:
    return (BASE_TIME + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


class DaemonWriter:
    """Writes a store the way crabtalk 0.0.22 does."""

    def __init__(self, root: str | os.PathLike[str], atomic: bool = True, clock: float = 0.0):
        self.root = Path(root)
        self.sessions_dir = self.root / "sessions"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.atomic = atomic
        self.clock = clock  # seconds after BASE_TIME for generated timestamps
        self._counters: dict[str, int] = {}
        self._memory: list[m.MemoryEntry] = []
        self._archives: dict[str, int] = {}
        self._metas: dict[str, m.Meta] = {}

    # -- primitives ----------------------------------------------------------

    def tick(self, seconds: float = 1.0) -> str:
        self.clock += seconds
        return _ts(self.clock)

    def atomic_write(self, path: Path, data: bytes) -> None:
        if not self.atomic:
            with open(path, "wb") as f:
                f.write(data)
            return
        tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}.{time.time_ns()}")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)

    def _next_step(self, slug: str) -> int:
        n = self._counters.get(slug)
        if n is None:
            best = 0
            for name in os.listdir(self.sessions_dir / slug):
                k = step_number(name)
                if k is not None:
                    best = max(best, k)
            n = best + 1
        self._counters[slug] = n + 1
        return n

    # -- sessions ------------------------------------------------------------

    def create_session(self, agent: str, created_by: str, title: str = "") -> str:
        seq = next_session_seq(self.sessions_dir, agent, created_by)
        slug = f"{sender_slug(agent)}_{sender_slug(created_by)}_{seq}"
        (self.sessions_dir / slug).mkdir(parents=True, exist_ok=True)
        now = self.tick(0)
        meta = m.Meta(agent=agent, created_by=created_by, created_at=now, title=title, updated_at=now)
        self.write_meta(slug, meta)
        return slug

    def write_meta(self, slug: str, meta: m.Meta) -> None:
        self._metas[slug] = meta
        self.atomic_write(self.sessions_dir / slug / "meta", encode(meta))

    def touch_meta(self, slug: str, **changes: Any) -> None:
        meta = self._metas.get(slug)
        if meta is None:
            return
        fields = {f: getattr(meta, f) for f in meta.__struct_fields__}
        fields.update(changes)
        fields.setdefault("updated_at", _ts(self.clock))
        fields["updated_at"] = changes.get("updated_at", _ts(self.clock))
        self.write_meta(slug, m.Meta(**fields))

    def append(self, slug: str, value: Any) -> Path:
        """Append one StepLine value (entry, event or compact)."""
        return self.append_raw(slug, encode(value))

    def append_raw(self, slug: str, data: bytes) -> Path:
        """Append bytes as the next step, as if the daemon had written them."""
        path = self.sessions_dir / slug / step_file_name(self._next_step(slug))
        self.atomic_write(path, data)
        return path

    def leave_tmp(self, slug: str, data: bytes, whole: bool = False) -> Path:
        """A crash mid-write: a tmp file that is never renamed."""
        n = self._next_step(slug)
        self._counters[slug] = n  # the crashed write never took its number
        final = self.sessions_dir / slug / step_file_name(n)
        tmp = final.with_name(f"{final.name}.tmp.{os.getpid()}.{time.time_ns()}")
        tmp.write_bytes(data if whole else data[: max(1, len(data) // 2)])
        return tmp

    # -- memory.db -------------------------------------------------------------

    def add_archive(self, slug: str, content: str) -> str:
        n = self._archives.get(slug, 0) + 1
        self._archives[slug] = n
        name = archive_name(slug, n)
        eid = len(self._memory) + 1
        self._memory.append(m.MemoryEntry(eid, 1_763_629_200 + int(self.clock), "archive", name, content, []))
        self.write_memory()
        return name

    def add_note(self, name: str, content: str, aliases: Iterable[str] = ()) -> None:
        eid = len(self._memory) + 1
        self._memory.append(m.MemoryEntry(eid, 1_763_629_200 + int(self.clock), "note", name, content, list(aliases)))
        self.write_memory()

    def write_memory(self) -> None:
        data = encode_memory(self._memory)
        tmp = self.root / "memory.db.tmp"
        tmp.write_bytes(data)
        os.rename(tmp, self.root / "memory.db")

    def compact(self, slug: str, summary: str) -> str:
        name = self.add_archive(slug, summary)
        self.append(slug, m.Compact(archive_name=name, archived_at=self.tick(1)))
        return name


# --- conversation content ------------------------------------------------------

_TOPICS = [
    ("why does the nightly build fail on arm64?", "shell", {"cmd": "cargo build --target aarch64-unknown-linux-gnu"}),
    ("summarise the open issues about session resume", "search_issues", {"query": "resume session", "state": "open"}),
    ("what changed in the storage module last week?", "git_log", {"path": "crates/runtime/src/storage", "since": "7 days"}),
    ("find where the step counter is recovered", "grep", {"pattern": "recover_step_counter", "path": "crates"}),
    ("draft a reply to the customer about the outage", "read_file", {"path": "notes/outage-2026-11-18.md"}),
    ("how many tokens did yesterday's runs use?", "query_metrics", {"metric": "tokens", "range": "24h"}),
    ("rename the config key `memory_dir` to `memory_path`", "apply_patch", {"file": "config.toml", "hunks": 2}),
    ("check the disk usage on the build host", "shell", {"cmd": "df -h /var/lib/crabtalk"}),
]

_ANSWERS = [
    "The failure comes from a missing `aarch64` linker. Installing `gcc-aarch64-linux-gnu` and setting\n"
    "`CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER` fixes it.",
    "There are **three** open issues:\n\n1. resume drops the last tool result\n2. compaction loses the title\n"
    "3. a crash leaves `.tmp` files behind",
    "Two commits touched storage: one moved compaction archives into `memory.db`, one made every write atomic.",
    "`recover_step_counter` lives in `sessions.rs`; it takes `1 + max(step-N)` over the directory.",
    "Here is a draft:\n\n> We are sorry for the interruption on Tuesday. The root cause was ...",
    "About **1.2M** tokens, 80% of them prompt tokens; cache hits saved roughly a third.",
    "Done: the key is renamed in `config.toml` and in the loader, with a fallback for the old name.",
    "`/var/lib/crabtalk` is at 71% (35G of 49G). The largest directory is `sessions/` with 22G.",
]


def turn(w: DaemonWriter, slug: str, rng: random.Random, i: int, agent: str = "") -> None:
    """One user turn: question, thinking, a tool call and its result, an answer, events."""
    q, tool, args = _TOPICS[i % len(_TOPICS)]
    call_id = f"call_{i:04d}_{rng.randrange(16**6):06x}"
    w.append(slug, m.HistoryEntry(message=m.Message("user", [m.TextBlock(q)])))
    w.tick(2)
    w.append(slug, m.ToolStartEvent([m.ToolCall(call_id, tool, json.dumps(args))], w.tick(1)))
    w.append(
        slug,
        m.HistoryEntry(
            agent=agent,
            message=m.Message(
                "assistant",
                [
                    m.ThinkingBlock(f"The user wants: {q} I should call `{tool}` first and then answer.", signature=f"sig-{i}"),
                    m.ToolUseBlock(call_id, tool, args),
                ],
            ),
        ),
    )
    out = f"{tool} ok: {rng.randrange(3, 90)} lines\n" + "\n".join(f"  line {k}: ..." for k in range(3))
    # the daemon names the tool in its result and never writes `is_error`
    w.append(slug, m.HistoryEntry(message=m.Message("tool", [m.ToolResultBlock(call_id, out, name=tool)])))
    w.append(slug, m.ToolResultEvent(call_id, rng.randrange(40, 4000), w.tick(2)))
    w.append(slug, m.HistoryEntry(agent=agent, message=m.Message("assistant", [m.TextBlock(_ANSWERS[i % len(_ANSWERS)])])))
    p = rng.randrange(2_000, 30_000)
    c = rng.randrange(100, 1_500)
    hit = rng.randrange(0, p // 2)
    # a provider that reports reasoning tokens gets them written (every other turn here)
    details = m.CompletionTokensDetails(reasoning_tokens=c // 3) if i % 2 else None
    w.append(
        slug,
        m.DoneEvent("deepseek-chat", 2, "end_turn", m.Usage(p, c, p + c, details, hit, p - hit), w.tick(1)),
    )
    w.touch_meta(slug)


def build_demo(root: str | os.PathLike[str], seed: int = 7) -> Path:
    """The demo store: every kind of step, compactions, and every kind of damage."""
    rng = random.Random(seed)
    w = DaemonWriter(root)
    root = Path(root)

    # A long healthy conversation, compacted twice (archives in memory.db).
    s = w.create_session("Crab", "user", "Nightly build triage")
    n = 0
    for _ in range(4):
        turn(w, s, rng, n)
        n += 1
    w.compact(s, "Summary of the first part: the arm64 build fails for lack of a cross linker; "
              "the user also asked about open resume issues (three found).")
    for _ in range(3):
        turn(w, s, rng, n)
        n += 1
    w.compact(s, "Summary so far: arm64 build fixed with gcc-aarch64-linux-gnu; storage changes reviewed; "
              "step counter recovery located in sessions.rs.")
    for _ in range(2):
        turn(w, s, rng, n)
        n += 1
    w.append(s, m.UserSteeredEvent("also check the disk on the build host", w.tick(3)))
    turn(w, s, rng, 7)
    w.touch_meta(s, message_count=12, summary="arm64 build, storage review, disk usage")

    # A short, clean second session for the same pair (the latest one).
    s2 = w.create_session("Crab", "user", "Outage reply")
    turn(w, s2, rng, 4)

    # A telegram user's session with an old-style compact and real damage.
    s3 = w.create_session("researcher", "tg:12345", "Token usage report")
    turn(w, s3, rng, 5)
    w.append(s3, m.LegacyCompact("The user asked for token usage; roughly 1.2M tokens yesterday.", "Token usage", w.tick(5)))
    turn(w, s3, rng, 1)
    good = encode(m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("Let me pull the per-model numbers.")])))
    w.append_raw(s3, good[: len(good) - 17])  # truncated mid-string: a torn write
    w.append_raw(s3, b'{"event":"tool_result","call_id":"call_9","duration_ms":12.5,"ts":"' + w.tick(1).encode() + b'"}')
    w.append_raw(s3, b'{"message":{"role":"user","content":[{"type":"text","text":"caf\xe9 menu"}]}}')
    w.append(s3, m.HistoryEntry(message=m.Message("user", [m.TextBlock("[bold red]not markup[/] \x1b[31mred?\x1b[0m \x07 and a tab\tend")])))
    w.append_raw(s3, b'["", ["assistant", [["text", "written as arrays: serde accepts it"]]]]')
    w.leave_tmp(s3, good, whole=False)
    w.append(s3, m.HistoryEntry(message=m.Message("assistant", [m.TextBlock("Per model: 70% deepseek-chat, 30% claude.")])))
    w.touch_meta(s3, message_count=9)

    # A delegated session whose compact names an archive memory.db lacks,
    # with a gap in its numbering and a whole leftover tmp file.
    s4 = w.create_session("coder", "delegate:42", "Rename config key")
    turn(w, s4, rng, 6)
    w.append(s4, m.Compact(archive_name="coder-delegate-42-1-lost", archived_at=w.tick(2)))
    w._counters[s4] = w._next_step(s4) + 2  # two numbers never written
    turn(w, s4, rng, 3)
    w.leave_tmp(s4, encode(m.HistoryEntry(message=m.Message("user", [m.TextBlock("and update the docs too")]))), whole=True)

    # Sessions the daemon's listing hides: a corrupt meta, and no meta at all.
    s5 = w.create_session("Crab", "ops", "Disk alert")
    turn(w, s5, rng, 7)
    (root / "sessions" / s5 / "meta").write_bytes(b'{"agent":"Crab","created_by":"ops","created_at":null}')
    orphan = root / "sessions" / "crab_ops_2"
    orphan.mkdir()
    w.append(orphan.name, m.HistoryEntry(message=m.Message("user", [m.TextBlock("is anyone there?")])))

    w.add_note("user-preferences", "Prefers short answers with commands first.", aliases=["prefs"])
    return root
