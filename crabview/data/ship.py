"""``crabview ship``: follow a store live and send each finished turn over OTLP/HTTP.

The store is followed by the same watcher as ``tail -f``
(``StoreWatcher.events``); a turn is sent once its ``done`` event has
landed, as the spans ``otlp.py`` builds (the ids ``export --format otlp``
gives them, so a receiver can deduplicate the two), through the
OpenTelemetry SDK's OTLP/HTTP exporter.

Position: per session, the name of the last done step whose turn the
endpoint accepted, compared by step number (steps are only ever appended,
each with a higher number; past step-999999 names no longer sort by it).
It lives in a state file outside the store, rewritten atomically after
every accepted batch, so a restart neither resends nor skips. Only a
crash between the endpoint's answer and that rewrite can resend one
batch, with the same ids.

When the endpoint is down, the batch is kept and retried with
exponential backoff; each failure is said on stderr, and so is recovery.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import signal
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, TextIO

from ..render.jsonenc import ascii_json, dumps
from ..render.safe import visible
from ..store.session import Session
from ..store.store import Store
from ..store.watch import MemoryChanged, SessionRemoved, StepsAdded, StepsChanged, StepsRemoved, StoreWatcher
from .otlp import SCOPE_NAME, SpanRecord, Turn, resource_attributes, store_identity, turn_spans, turns

BATCH_SPANS = 512


def step_position(name: str) -> tuple[int, int, str]:
    """Where a step stands in the order the daemon wrote it: its number (a
    new step always gets a higher one, even past 999999 where names stop
    sorting by number: `step-1000000` loads before `step-999999`); a
    leftover `step-000007.tmp.*` before `step-000007` (a crashed write
    leaves the tmp, and the daemon's next write takes the same number)."""
    m = _STEP_NUMBER.match(name)
    return (int(m.group(1)) if m else -1, 0 if ".tmp." in name else 1, name)


_STEP_NUMBER = re.compile(r"step-\+?(\d+)")


def _too_large(why: str) -> bool:
    """The endpoint (413) or the exporter itself (its 64 MiB cap) refused the request for its size."""
    return why.startswith("HTTP 413") or why.startswith("Dropping span batch")


class ShipError(Exception):
    """A setup the user must fix (state file, endpoint); one line for people."""


def default_state_path(identity: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    key = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(base) / "crabview" / f"ship-{key}.json"


def _inside(path: Path, parent: Path | None) -> bool:
    if parent is None:
        return False
    try:
        path.resolve().relative_to(Path(parent).resolve())
        return True
    except (ValueError, OSError):
        return False


class ShipState:
    """slug -> name of the last done step sent, for one store."""

    def __init__(self, path: Path, identity: str):
        self.path = path
        self.identity = identity
        self.sent: dict[str, str] = {}

    def load(self) -> "ShipState":
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return self
        except OSError as e:
            raise ShipError(f"{self.path}: cannot read the state file: {e.strerror or e}") from None
        try:
            d = json.loads(raw)
            if not isinstance(d, dict) or not isinstance(d.get("sessions"), dict):
                raise ValueError("not a crabview ship state file")
        except ValueError as e:
            raise ShipError(f"{self.path}: not a crabview ship state file ({e}); move it away to start over") from None
        if d.get("store") != self.identity:
            raise ShipError(f"{self.path}: state of another store ({d.get('store')!r}); give --state a file of its own")
        self.sent = {str(k): str(v) for k, v in d["sessions"].items()}
        return self

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp.{os.getpid()}")
        # keys sorted, ASCII only: the layout json.dumps(sort_keys, ensure_ascii) gave, through the one encoder
        data = ascii_json(dumps({"sessions": dict(sorted(self.sent.items())), "store": self.identity, "version": 1}))
        with open(tmp, "w", encoding="ascii") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def lock_state(path: Path) -> int:
    """Hold ``<state>.lock`` (beside the state file, outside the store) for
    as long as this ship runs: two ships on one position would both send
    every new turn. The lock goes with the process, crash or not."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise ShipError(f"{path}: another crabview ship{who} is using this state file; stop it first, "
                        f"or give --state a file of its own") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd


def check_state_path(path: Path, store: Store) -> None:
    for forbidden in (store.sessions_dir, store.layout.root):
        if _inside(path, forbidden):
            raise ShipError(f"{path}: refusing to keep the state inside the store being shipped ({forbidden}); crabview never writes into a store")


def _error_text(e: Any) -> str:
    """A transport error in a few words: "Connection refused", not a
    urllib3 repr three lines long."""
    text = str(e)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if m:
        return m.group(1).strip()
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return "timed out"
    if "remotedisconnected" in low or "connection aborted" in low:
        return "the connection was closed by the endpoint"
    return type(e).__name__ if isinstance(e, BaseException) else visible(text, multiline=False)[:200]


class ExporterReasons(logging.Handler):
    """Keeps why the SDK exporter's last try failed, from its own log
    records (its export() answers only SUCCESS or FAILURE); nothing of it
    is printed: ship says it once, in its own words."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg, args = str(record.msg), record.args if isinstance(record.args, tuple) else ()
            if msg.startswith("Failed to export %s batch code") and len(args) == 3:
                code, reason = args[1], args[2]
                self.last = f"HTTP {code} {visible(str(reason), multiline=False)[:200]}".rstrip() if code else _error_text(reason)
            elif msg.startswith("Transient error") and args:
                self.last = _error_text(args[0])
            elif msg.startswith("Dropping span batch"):
                self.last = record.getMessage()
        except Exception:  # noqa: BLE001 - a log format we do not know: keep the generic words
            pass

    def take(self) -> str | None:
        last, self.last = self.last, None
        return last


def witness_session() -> Any:
    """A requests session (the exporter's public ``session`` parameter) that
    keeps the outcome of the last try that failed: the exporter itself
    answers only SUCCESS or FAILURE, and logs the cause only sometimes."""
    import requests

    class WitnessSession(requests.Session):
        last: str | None = None

        def request(self, *args: Any, **kwargs: Any) -> Any:
            try:
                r = super().request(*args, **kwargs)
            except requests.RequestException as e:
                self.last = _error_text(e)
                raise
            if not 200 <= r.status_code < 400:
                self.last = f"HTTP {r.status_code} {visible(str(r.reason or ''), multiline=False)[:200]}".rstrip()
            return r

        def take(self) -> str | None:
            last, self.last = self.last, None
            return last

    return WitnessSession()


def make_exporter(endpoint: str, timeout: float) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    session = witness_session()
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout, session=session)
    exporter.crabview_witness = session  # read by Shipper._export
    return exporter


def capture_exporter_reasons() -> ExporterReasons:
    """Route the OpenTelemetry loggers to one ExporterReasons handler only."""
    handler = ExporterReasons()
    lg = logging.getLogger("opentelemetry")
    for h in list(lg.handlers):
        if isinstance(h, ExporterReasons):
            lg.removeHandler(h)
    lg.addHandler(handler)
    lg.setLevel(logging.WARNING)
    lg.propagate = False
    return handler


def to_sdk_spans(identity: str, records: list[SpanRecord]) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource(resource_attributes(identity))
    scope = InstrumentationScope(SCOPE_NAME)
    kinds = {1: SpanKind.INTERNAL, 3: SpanKind.CLIENT}
    out = []
    for r in records:
        tid = int.from_bytes(r.trace_id, "big")
        ctx = SpanContext(tid, int.from_bytes(r.span_id, "big"), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        parent = (
            SpanContext(tid, int.from_bytes(r.parent_id, "big"), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
            if r.parent_id is not None
            else None
        )
        status = Status(StatusCode.ERROR, r.status_message) if r.status_code == 2 else Status(StatusCode.UNSET)
        out.append(
            ReadableSpan(
                name=r.name,
                context=ctx,
                parent=parent,
                resource=resource,
                attributes=r.attributes,
                events=[Event(e.name, e.attributes, e.time_ns) for e in r.events],
                kind=kinds.get(r.kind, SpanKind.INTERNAL),
                status=status,
                start_time=r.start_ns,
                end_time=r.end_ns,
                instrumentation_scope=scope,
            )
        )
    return out


class Shipper:
    def __init__(
        self,
        store: Store,
        endpoint: str,
        state: ShipState,
        exporter: Any,
        err: TextIO,
        with_content: bool = False,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        poll: bool = False,
    ):
        self.store = store
        self.endpoint = endpoint
        self.state = state
        self.exporter = exporter
        self.err = err
        self.with_content = with_content
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.poll = poll
        self.identity = state.identity
        self.sessions: dict[str, Session] = {}
        self.turns_sent = 0
        self.spans_sent = 0
        self.failures = 0
        self.stopping = asyncio.Event()
        self.reasons = capture_exporter_reasons()
        self.batch_turns = BATCH_SPANS  # turns a request, halved when the endpoint refuses a size

    def note(self, text: str) -> None:
        self.err.write(f"crabview ship: {visible(text, multiline=False)}\n")
        self.err.flush()

    # -- what is due -----------------------------------------------------------

    def due(self, slug: str) -> list[tuple[str, Turn]]:
        """(done step name, turn) of every finished turn not yet sent, in
        order. Their spans are made only when a request takes them (``send``),
        so what waits costs a few numbers a turn, not its spans."""
        s = self.sessions.get(slug)
        if s is None:
            return []
        last = self.state.sent.get(slug)
        out = []
        floor = step_position(last) if last is not None else None
        for t in turns(s):
            name = s.steps[t.done].name  # type: ignore[index]
            if floor is not None and step_position(name) <= floor:
                continue
            out.append((name, t))
        # sent in writing order, so the position only ever moves forward
        out.sort(key=lambda item: step_position(item[0]))
        return out

    # -- sending ---------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def send(self, *slugs: str) -> None:
        """Send what is due for ``slugs`` (batched across sessions); retry
        until accepted or stopping."""
        # [slug, done step name, turn, its spans once made]: the sessions do
        # not change while this runs (``run`` applies the next changes after)
        due: deque[list[Any]] = deque([slug, name, t, None] for slug in slugs for name, t in self.due(slug))
        while due and not self.stopping.is_set():
            batch: list[list[Any]] = []
            n = 0
            while due:
                more = len(self._spans(due[0]))
                if batch and (n + more > BATCH_SPANS or len(batch) >= self.batch_turns):
                    break
                batch.append(due.popleft())
                n += more
            spans = to_sdk_spans(self.identity, [sp for item in batch for sp in item[3]])
            delay = self.backoff
            attempt = 0
            while True:
                ok, why = await asyncio.to_thread(self._export, spans)
                if ok:
                    if attempt:
                        self.note(f"{self.endpoint} accepts again after {attempt} failed attempt(s); sending")
                    break
                if len(batch) > 1 and _too_large(why):
                    # a refusal by size is not an outage: retrying the same
                    # request would fail forever. Halve it (and every later
                    # batch); a single turn too big is retried like an outage.
                    half = len(batch) // 2
                    due.extendleft(reversed(batch[half:]))
                    batch = batch[:half]
                    self.batch_turns = half
                    spans = to_sdk_spans(self.identity, [sp for item in batch for sp in item[3]])
                    self.note(f"{self.endpoint} refuses a request that big ({why}); splitting: {half} turn(s) a request from now on")
                    continue
                attempt += 1
                self.failures += 1
                waiting = len(batch) + len(due)
                self.note(f"cannot send to {self.endpoint} ({why}); {waiting} turn(s) waiting, retrying in {delay:.1f}s (attempt {attempt})")
                await self._sleep(delay)
                if self.stopping.is_set():
                    return
                delay = min(delay * 2, self.max_backoff)
            for slug, name, _turn, _sps in batch:  # in load order within each session
                self.state.sent[slug] = name
            self.state.save()
            self.turns_sent += len(batch)
            self.spans_sent += len(spans)

    def _spans(self, item: list[Any]) -> list[SpanRecord]:
        """The spans of a due item, made on first use and kept with it."""
        if item[3] is None:
            s = self.sessions[item[0]]
            agent = s.meta.agent if s.meta is not None else (s.parsed_slug.agent if s.parsed_slug else "")
            item[3] = turn_spans(self.identity, s, item[2], self.with_content, agent)
        return item[3]

    def _export(self, spans: list[Any]) -> tuple[bool, str]:
        from opentelemetry.sdk.trace.export import SpanExportResult

        witness = getattr(self.exporter, "crabview_witness", None)
        if witness is not None:
            witness.take()
        self.reasons.take()
        try:
            result = self.exporter.export(spans)
        except Exception as e:  # the exporter's transport errors, whatever their class
            return False, _error_text(e)
        if result is SpanExportResult.SUCCESS:
            return True, ""
        why = (witness.take() if witness is not None else None) or self.reasons.take()
        return False, why or "the endpoint is down or refused the spans"

    # -- following ---------------------------------------------------------------

    def apply(self, events: list[Any]) -> list[str]:
        """Bring loaded sessions up to date; the slugs that may have new turns."""
        touched: dict[str, list[str]] = {}
        for e in events:
            if isinstance(e, SessionRemoved):
                self.sessions.pop(e.slug, None)
                if self.state.sent.pop(e.slug, None) is not None:
                    self.state.save()  # a session made anew under this name starts over
            elif isinstance(e, (StepsAdded, StepsChanged, StepsRemoved)):
                touched.setdefault(e.slug, []).extend(e.names)
            elif isinstance(e, MemoryChanged):
                mem = self.store.reload_memory()
                for s in self.sessions.values():
                    s.set_memory(mem)
        for slug, names in touched.items():
            s = self.sessions.get(slug)
            if s is None:
                self.sessions[slug] = self.store.load_session(slug)
            else:
                s.refresh(names)
        return sorted(touched)

    def _any_step(self) -> bool:
        """Whether any session directory holds a step- entry (stops at the first)."""
        try:
            with os.scandir(self.store.sessions_dir) as sessions:
                for d in sessions:
                    try:
                        with os.scandir(d.path) as files:
                            if any(f.name.startswith("step-") for f in files):
                                return True
                    except OSError:
                        continue
        except OSError:
            return False
        return False

    async def run(self, on_ready: Callable[[], None] | None = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stopping.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        watcher = StoreWatcher(self.store.layout, poll=self.poll)
        agen = watcher.events(initial=True)
        started = time.monotonic()
        first = True
        stop_task = asyncio.ensure_future(self.stopping.wait())
        def ready(slugs: list[str]) -> None:
            pending = sum(len(self.due(s)) for s in slugs)
            self.note(
                f"following {len(self.sessions)} session(s) under {self.store.sessions_dir} ({watcher.mode}); "
                f"{pending} turn(s) to send to {self.endpoint}; state in {self.state.path}"
            )
            if on_ready is not None:
                on_ready()

        try:
            while not self.stopping.is_set():
                nxt = asyncio.ensure_future(agen.__anext__())
                waiting = {nxt, stop_task}
                if first:
                    # The watcher's initial scan runs inside its first step and
                    # yields nothing when the store holds no step yet: once the
                    # loop is back and no batch came, the store is empty.
                    done, _ = await asyncio.wait(waiting, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                    if not done and not self._any_step():
                        first = False
                        ready([])
                        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                else:
                    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    nxt.cancel()
                    break
                try:
                    batch = nxt.result()
                except StopAsyncIteration:
                    break
                slugs = self.apply(batch)
                if first:
                    first = False
                    ready(slugs)
                await self.send(*slugs)
        finally:
            watcher.stop()
            stop_task.cancel()
            try:
                await agen.aclose()
            except RuntimeError:  # pragma: no cover - a pending __anext__ was cancelled
                pass
        took = time.monotonic() - started
        self.note(f"stopped: {self.turns_sent} turn(s), {self.spans_sent} span(s) sent in {took:.1f}s")
        return 0
