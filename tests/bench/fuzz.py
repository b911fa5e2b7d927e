"""Long fuzz run over the decoders and whole session loads.

Run: python tests/bench/fuzz.py [--minutes 5] [--seed 1]
Checks, for every input: no exception escapes; the verdict is one of the
six kinds; fast and exact paths agree; unparsable steps carry a reason and
an offset inside the file; meta and memory.db readers never raise; a
session load's replay is consistent with its verdicts. Prints counts.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crabview.fuzzing import MUTATORS, check_step_invariants, sample_steps  # noqa: E402
from crabview.store import models as m  # noqa: E402
from crabview.store.decode import decode_meta, encode  # noqa: E402
from crabview.store.memory import MemoryError_, encode_memory, parse_memory  # noqa: E402
from crabview.store.session import load_session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    r = random.Random(args.seed)
    deadline = time.monotonic() + args.minutes * 60
    samples = sample_steps(r)
    meta = encode(m.Meta("Crab", "user", "2026-11-20T09:00:00Z", "t", "u", 3, None))
    mem = encode_memory([m.MemoryEntry(1, 2, "archive", "crab-user-1-1", "summary", ["alias"])])
    kinds: Counter[str] = Counter()
    by_mutator: Counter[str] = Counter()
    counts = Counter()
    tmp = Path(tempfile.mkdtemp(prefix="crabview-fuzz-"))
    sdir = tmp / "s"
    sdir.mkdir()
    (sdir / "meta").write_bytes(meta)
    failures = 0
    last = time.monotonic()
    while time.monotonic() < deadline:
        # steps: random bytes and mutations of valid ones (mutations stacked 1-3 deep)
        if r.random() < 0.15:
            data = os.urandom(r.randint(0, 64))
            by_mutator["random_bytes"] += 1
        else:
            data = r.choice(samples)
            for _ in range(r.randint(1, 3)):
                name, fn = r.choice(MUTATORS)
                data = fn(data, r)
                by_mutator[name] += 1
        try:
            kinds[check_step_invariants(data).kind] += 1
        except AssertionError as e:
            failures += 1
            print("INVARIANT BROKEN:", repr(e)[:500])
        counts["steps"] += 1
        # meta
        mdata = r.choice(MUTATORS)[1](meta, r)
        d = decode_meta(mdata)
        assert (d.meta is None) == (d.error is not None)
        counts["metas"] += 1
        # memory.db
        bdata = bytearray(mem)
        for _ in range(r.randint(1, 4)):
            i = r.randrange(len(bdata))
            bdata[i] = r.randrange(256)
        if r.random() < 0.3:
            bdata = bdata[: r.randrange(len(bdata))]
        try:
            parse_memory(bytes(bdata))
        except MemoryError_:
            pass
        counts["memory_dbs"] += 1
        # whole session loads, every 50 inputs
        if counts["steps"] % 50 == 0:
            for p in sdir.glob("step-*"):
                p.unlink()
            for k in range(r.randint(1, 12)):
                base = r.choice(samples)
                if r.random() < 0.5:
                    base = r.choice(MUTATORS)[1](base, r)
                (sdir / f"step-{k + 1:06d}").write_bytes(base)
            s = load_session(sdir)
            for i in s.replay_indices:
                assert s.steps[i].kind == m.KIND_ENTRY and i >= s.replay_start
            if s.boundary is not None:
                assert s.steps[s.boundary.index].kind in (m.KIND_COMPACT, m.KIND_LEGACY)
                assert not any(st.is_boundary for st in s.steps[s.boundary.index + 1 :])
            s.problems  # noqa: B018 - must not raise
            counts["session_loads"] += 1
        if time.monotonic() - last > 10:
            last = time.monotonic()
            print(f"… {dict(counts)}", flush=True)
    print(f"inputs tried: {dict(counts)}")
    print(f"step verdicts: {dict(kinds)}")
    print(f"mutations applied: {dict(by_mutator)}")
    print(f"invariant failures: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
