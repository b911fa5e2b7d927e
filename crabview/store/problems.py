"""Everything the daemon would not tell you (FORMAT.md 7), with stable codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from . import models as m
from .layout import TMP_MARK, U64_MAX, is_utf8_name, step_number

if TYPE_CHECKING:  # pragma: no cover
    from .memory import Memory
    from .session import Session

# Severity of a problem, by what it costs the user of the daemon:
#   error   - the daemon loses data or cannot resume the session;
#   warning - nothing is lost yet, but it will bite later (a leftover tmp, a gap);
#   info    - the daemon reads it fine, through a serde leniency.
ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES: tuple[str, ...] = (ERROR, WARNING, INFO)  # most severe first
_RANK = {sev: k for k, sev in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for error, 1 warning, 2 info (unknown severities count as errors)."""
    return _RANK.get(severity, 0)


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is ``threshold`` or more severe."""
    return severity_rank(severity) <= severity_rank(threshold)


# code -> (severity, what it means). Codes and severities are part of the JSON contract.
CODES: dict[str, tuple[str, str]] = {
    "unparsable_step": (ERROR, "a step the daemon skips on resume: its content is lost to the conversation"),
    "unreadable_step": (ERROR, "a step- entry that cannot be read: the whole load fails"),
    "meta_missing": (ERROR, "no meta: the daemon treats the session as absent"),
    "meta_corrupt": (ERROR, "meta does not decode: load fails, session hidden from the listing"),
    "meta_unreadable": (ERROR, "meta cannot be read: load fails, session hidden from the listing"),
    "dir_unreadable": (ERROR, "the session directory cannot be listed"),
    "archive_missing": (ERROR, "the replay boundary names an archive memory.db does not have (an earlier boundary's: warning)"),
    "memory_unreadable": (ERROR, "memory.db cannot be read"),
    "counter_wraps": (ERROR, "the step counter wraps past u64's end: the next step is written as step-000000"),
    "leftover_tmp": (WARNING, "a tmp file left by an interrupted atomic write"),
    "session_unlisted": (WARNING, "the daemon's session listing skips this directory"),
    "step_gap": (WARNING, "step numbers are missing"),
    "step_order": (WARNING, "load order is not numeric: step numbers past 999999, or names not zero-padded to 6 digits (step-+5)"),
    "duplicate_step_number": (WARNING, "two files carry the same step number"),
    "skipped_name": (WARNING, "a step- name the daemon never reads (not valid UTF-8)"),
    "step_rewritten": (WARNING, "a step file changed after it was first read: the daemon never rewrites a step"),
    "lenient_decode": (INFO, "the daemon accepts this step only through a serde leniency"),
}


class Problem(msgspec.Struct, gc=False):
    code: str
    severity: str  # error | warning | info (SEVERITIES)
    slug: str | None
    file: str | None
    reason: str


def problem(code: str, slug: str | None, file: str | None, reason: str) -> Problem:
    return Problem(code, CODES[code][0], slug, file, reason)


def _ranges(missing: list[int]) -> str:
    out, i = [], 0
    while i < len(missing) and len(out) < 5:
        j = i
        while j + 1 < len(missing) and missing[j + 1] == missing[j] + 1:
            j += 1
        out.append(f"{missing[i]}" if i == j else f"{missing[i]}-{missing[j]}")
        i = j + 1
    more = " …" if i < len(missing) else ""
    return ", ".join(out) + more


def meta_problems(s: "Session") -> list[Problem]:
    """The problems of the session as a whole: its meta, its directory, leftovers beside the steps."""
    slug = s.slug
    out: list[Problem] = []
    if s.meta_status == "missing":
        out.append(problem("meta_missing", slug, "meta", "meta does not exist: load returns nothing and the listing hides the session"))
    elif s.meta_status == "corrupt":
        md = s.meta_decode
        where = f" (byte {md.offset})" if md is not None and md.offset is not None else ""
        out.append(problem("meta_corrupt", slug, "meta", f"{s.meta_error}{where}"))
    elif s.meta_status == "unreadable":
        out.append(problem("meta_unreadable", slug, "meta", s.meta_error or "cannot be read"))
    if s.is_symlink:
        out.append(problem("session_unlisted", slug, None, "the session directory is a symlink: the daemon's listing skips it (load still follows it)"))
    if s.dir_error:
        out.append(problem("dir_unreadable", slug, None, s.dir_error))
    for name in sorted(s.other_names):
        if name.startswith("meta") and TMP_MARK in name:
            out.append(problem("leftover_tmp", slug, name, "leftover tmp of meta (not loaded by the daemon)"))
        elif name.startswith("step-") and not is_utf8_name(name):
            shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            out.append(problem("skipped_name", slug, shown, "a step- name that is not valid UTF-8: the daemon passes over it without a word"))
    return out


def session_problems(s: "Session") -> list[Problem]:
    slug = s.slug
    out: list[Problem] = meta_problems(s)
    numbers: dict[int, str] = {}
    prev_num: int | None = None
    order_broken: str | None = None
    prev_name = ""
    boundary = s.boundary
    for i, st in enumerate(s.steps):
        name = st.name
        if st.kind == m.KIND_UNPARSABLE:
            at = f" (byte {st.offset})" if st.offset is not None else ""
            out.append(problem("unparsable_step", slug, name, f"skipped on resume: {st.error}{at}"))
        elif st.kind == m.KIND_UNREADABLE:
            out.append(problem("unreadable_step", slug, name, f"{st.error}: the daemon cannot load this session at all"))
        elif st.notes:
            out.append(problem("lenient_decode", slug, name, f"decodes as {st.kind} only leniently: {'; '.join(st.notes)}"))
        # any compact counts, whatever its file is called (a tmp leftover or
        # step-abc can be the replay boundary too)
        if st.kind == m.KIND_COMPACT:
            v = st.value
            if s.memory is None or s.memory.resolve(v.archive_name) is None:
                is_boundary = boundary is not None and boundary.index == i
                if s.memory is not None and s.memory.status == "unreadable":
                    what = f"archive {v.archive_name!r} cannot be found: memory.db is unreadable"
                else:
                    what = f"archive {v.archive_name!r} is not in memory.db"
                if is_boundary:
                    what += f"; on resume the daemon injects “[archived context unavailable: {v.archive_name}]”"
                    out.append(problem("archive_missing", slug, name, what))
                else:
                    # an earlier boundary: resume does not read it, so less urgent
                    p = problem("archive_missing", slug, name, what + " (an earlier boundary: resume does not use it)")
                    p.severity = "warning"
                    out.append(p)
        if TMP_MARK in name:
            if st.decoded:
                extra = " and replays it" if (st.kind == m.KIND_ENTRY and i >= s.replay_start) else ""
                out.append(problem("leftover_tmp", slug, name, f"whole leftover tmp file: the daemon loads it as {st.kind}{extra}"))
            else:
                out.append(problem("leftover_tmp", slug, name, f"partial leftover tmp file ({st.kind}): skipped by the daemon"))
            continue
        n = step_number(name)
        if n is None:
            continue
        if n in numbers:
            out.append(problem("duplicate_step_number", slug, name, f"step number {n} also in {numbers[n]}; the daemon loads both"))
        else:
            numbers[n] = name
        if prev_num is not None and n < prev_num and order_broken is None:
            # the first name that loads after a larger number: e.g. step-999999
            # after step-1000000 (byte order compares "1" < "9"), or any step
            # after step-+5 (the daemon's u64 parse takes the "+"; "+" sorts first)
            order_broken = f"{prev_name} (step {prev_num}) loads before {name} (step {n})"
            order_broken_name = name
        if prev_num is None or n > prev_num:
            prev_num, prev_name = n, name
    for name in sorted(s.rewritten):
        if s.index_of(name) is not None:
            out.append(problem("step_rewritten", slug, name, f"{s.rewritten[name]}: the daemon never rewrites a step"))
    if numbers:
        top = max(numbers)
        if top > 999999:
            first_wide = min(k for k in numbers if k > 999999)
            out.append(
                problem(
                    "step_order",
                    slug,
                    numbers[first_wide],
                    f"step numbers past 999999 ({len([k for k in numbers if k > 999999])} files): "
                    + (f"{order_broken}, in the daemon's byte order" if order_broken else "names widen past 6 digits"),
                )
            )
        elif order_broken is not None:  # names that are not the daemon's zero-padded 6 digits
            out.append(
                problem("step_order", slug, order_broken_name, f"load order is not numeric: {order_broken}, in the daemon's byte order")
            )
        present = len([k for k in numbers if k >= 1])  # step-000000 fills no gap in 1..top
        if s.partial is not None:
            pass  # a stand-in holds the end of the load order only: the numbers below are unread, not missing
        elif top - present > 0 and top < 10_000_000:
            missing = [k for k in range(1, top + 1) if k not in numbers]
            if missing:
                out.append(problem("step_gap", slug, None, f"{len(missing)} step number(s) missing: {_ranges(missing)}"))
        elif top >= 10_000_000:
            out.append(problem("step_gap", slug, None, f"{top - present} step number(s) missing below {top}"))
        if top == U64_MAX:
            # the daemon's `max + 1` wraps (no overflow checks in release builds)
            out.append(
                problem(
                    "counter_wraps",
                    slug,
                    numbers[top],
                    "step number 18446744073709551615 is u64's largest: the daemon's counter wraps to 0, so the next "
                    "step is written as step-000000 (loaded before every other step) and the ones after it "
                    "overwrite any step-000001, step-000002, … already there",
                )
            )
    return out


def memory_problems(memory: "Memory") -> list[Problem]:
    if memory.status == "unreadable":
        return [problem("memory_unreadable", None, "memory.db", memory.error or "cannot be read")]
    return []
