"""`export --format otlp`: OTLP/JSON parsed by opentelemetry-proto into an
ExportTraceServiceRequest; spans counted against `check --json`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from crabview.cli import main
from crabview.demo import build_demo
from data_support import build_varied_store


def cli(*args: str):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout_bytes, r.stderr


def parse_otlp(data: bytes) -> ExportTraceServiceRequest:
    """OTLP/JSON → protobuf. OTLP/JSON writes ids as hex (the protobuf JSON
    mapping would use base64), so ids are converted first, as a receiver does."""
    d = json.loads(data)
    for rs in d["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in sp:
                        sp[k] = base64.b64encode(bytes.fromhex(sp[k])).decode()
    return json_format.ParseDict(d, ExportTraceServiceRequest())


def attrs(kvs) -> dict:
    out = {}
    for kv in kvs:
        v = kv.value
        which = v.WhichOneof("value")
        out[kv.key] = [x.string_value for x in v.array_value.values] if which == "array_value" else getattr(v, which)
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> list[Path]:
    base = tmp_path_factory.mktemp("otlp")
    return [build_demo(base / "demo"), build_varied_store(base / "v", 3, 10).root]


def check_json(root: Path) -> dict:
    r = CliRunner().invoke(main, ["check", "--json", str(root)])
    return json.loads(r.stdout)


def test_spans_per_session_match_check(stores):
    for root in stores:
        chk = check_json(root)
        for slug, s in chk["sessions"].items():
            code, out, err = cli("export", slug, "--root", str(root), "--format", "otlp")
            assert code == 0, err
            req = parse_otlp(out)
            spans = [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
            steps = s["steps"]
            done_idx = [i for i, st in enumerate(steps) if st.get("event") == "done"]
            tail = len(steps) - (done_idx[-1] + 1 if done_idx else 0)
            agents = [sp for sp in spans if sp.name.startswith("invoke_agent")]
            tools = [sp for sp in spans if sp.name.startswith("execute_tool")]
            assert len(agents) == len(done_idx) + (1 if tail else 0), slug
            assert len({sp.trace_id for sp in spans}) <= 1 and all(len(sp.trace_id) == 16 and len(sp.span_id) == 8 for sp in spans)
            # one execute_tool per call id named in tool_start events or tool_use blocks
            call_ids = set()
            for st in steps:
                v = st["value"] or {}
                if st.get("event") == "tool_start":
                    call_ids.update(c["id"] for c in v["calls"])
                elif st["kind"] == "entry":
                    call_ids.update(b["id"] for b in v["message"]["content"] if b.get("type") == "tool_use")
            assert len(tools) == len(call_ids), slug
            roots = {sp.span_id for sp in agents}
            assert all(sp.parent_span_id in roots for sp in tools)
            finished = [sp for sp in agents if attrs(sp.attributes)["crabview.turn.finished"]]
            u = s["usage"]
            assert sum(attrs(sp.attributes)["gen_ai.usage.input_tokens"] for sp in finished) == u["prompt_tokens"]
            assert sum(attrs(sp.attributes)["gen_ai.usage.output_tokens"] for sp in finished) == u["completion_tokens"]
            for sp in agents:
                a = attrs(sp.attributes)
                assert a["gen_ai.conversation.id"] == slug and a["gen_ai.operation.name"] == "invoke_agent"
                assert sp.end_time_unix_nano >= sp.start_time_unix_nano
            events = [e for sp in agents for e in sp.events]
            assert sum(e.name == "crabview.compact" for e in events) == s["counts"]["compact"] + s["counts"]["legacy_compact"]
            assert sum(e.name == "crabview.unparsable_step" for e in events) == s["counts"]["unparsable"]


def test_tool_span_timed_from_events(stores):
    code, out, _ = cli("export", "crab_user_2", "--root", str(stores[0]), "--format", "otlp")
    chk = check_json(stores[0])["sessions"]["crab_user_2"]["steps"]
    start = next(st for st in chk if st.get("event") == "tool_start")["value"]["ts"]
    end = next(st for st in chk if st.get("event") == "tool_result")["value"]["ts"]
    sp = next(sp for rs in parse_otlp(out).resource_spans for ss in rs.scope_spans for sp in ss.spans if sp.name.startswith("execute_tool"))
    from crabview.data.otlp import parse_ts

    assert (sp.start_time_unix_nano, sp.end_time_unix_nano) == (parse_ts(start), parse_ts(end))
    assert attrs(sp.attributes)["gen_ai.tool.name"] == "read_file"


def test_ids_are_deterministic_and_distinct(stores, tmp_path):
    a = cli("export", "crab_user_1", "--root", str(stores[0]), "--format", "otlp")[1]
    b = cli("export", "crab_user_1", "--root", str(stores[0]), "--format", "otlp")[1]
    assert a == b
    other = cli("export", "crab_user_2", "--root", str(stores[0]), "--format", "otlp")[1]
    ids_a = {sp.span_id for rs in parse_otlp(a).resource_spans for ss in rs.scope_spans for sp in ss.spans}
    ids_o = {sp.span_id for rs in parse_otlp(other).resource_spans for ss in rs.scope_spans for sp in ss.spans}
    assert len(ids_a) == 20 and not ids_a & ids_o  # ten turns, one tool call each
    # the same session content under another store path gets other ids
    copy = build_demo(tmp_path / "copy")
    c = cli("export", "crab_user_1", "--root", str(copy), "--format", "otlp")[1]
    assert not ids_a & {sp.span_id for rs in parse_otlp(c).resource_spans for ss in rs.scope_spans for sp in ss.spans}


def test_content_only_with_flag(stores):
    plain = cli("export", "crab_user_1", "--root", str(stores[0]), "--format", "otlp")[1]
    full = cli("export", "crab_user_1", "--root", str(stores[0]), "--format", "otlp", "--with-content")[1]
    question = "why does the nightly build fail on arm64?"
    assert question not in plain.decode() and "cargo build" not in plain.decode()
    assert question in full.decode() and "gen_ai.input.messages" in full.decode() and "gen_ai.tool.call.arguments" in full.decode()


def test_hostile_text_is_escaped(stores):
    out = cli("export", "researcher_tg-12345_1", "--root", str(stores[0]), "--format", "otlp", "--with-content")[1]
    assert out.isascii() and b"\x1b" not in out
    assert "\\u001b[31m" in out.decode()


# The GenAI semantic conventions (semantic-conventions-genai, gen-ai-agent-spans.md
# and the gen_ai attribute registry): the gen_ai.* names a span may carry.
GEN_AI_REGISTRY = {
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.agent.name", "gen_ai.agent.id",
    "gen_ai.conversation.id", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.name", "gen_ai.tool.call.id",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.tool.type",
}


def test_spans_follow_the_genai_conventions(tmp_path):
    """Span names are `invoke_agent {gen_ai.agent.name}` and `execute_tool
    {gen_ai.tool.name}` (also when a guest agent answers the turn), both
    INTERNAL (an in-process agent; tools run by it); the Required
    gen_ai.provider.name is there; no made-up name squats the gen_ai
    namespace (crabtalk's extra usage counts live under crabview.usage)."""
    import random

    from crabview.demo import DaemonWriter, turn

    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("Crab", "user", "guests")
    rng = random.Random(1)
    for i in range(4):
        turn(w, slug, rng, i, agent="helper" if i % 2 else "")
    code, out, err = cli("export", slug, "--root", str(w.root), "--format", "otlp", "--with-content")
    assert code == 0, err
    spans = [sp for rs in parse_otlp(out).resource_spans for ss in rs.scope_spans for sp in ss.spans]
    done = [st["value"] for st in check_json(w.root)["sessions"][slug]["steps"] if st.get("event") == "done"]
    agents = [sp for sp in spans if attrs(sp.attributes)["gen_ai.operation.name"] == "invoke_agent"]
    tools = [sp for sp in spans if attrs(sp.attributes)["gen_ai.operation.name"] == "execute_tool"]
    assert len(agents) == len(done) == 4 and len(tools) == 4 and len(spans) == 8
    assert [attrs(sp.attributes)["gen_ai.agent.name"] for sp in agents] == ["Crab", "helper", "Crab", "helper"]
    for sp, d in zip(agents, done):
        a = attrs(sp.attributes)
        assert sp.name == f"invoke_agent {a['gen_ai.agent.name']}" and sp.kind == sp.SPAN_KIND_INTERNAL
        assert a["gen_ai.provider.name"]
        u = d["usage"]
        assert a["gen_ai.usage.input_tokens"] == u["prompt_tokens"] and a["gen_ai.usage.output_tokens"] == u["completion_tokens"]
        assert a["gen_ai.usage.cache_read.input_tokens"] == u["prompt_cache_hit_tokens"]
        assert a["crabview.usage.prompt_cache_miss_tokens"] == u["prompt_cache_miss_tokens"]
        assert a["crabview.usage.total_tokens"] == u["total_tokens"]
        reasoning = (u.get("completion_tokens_details") or {}).get("reasoning_tokens")
        assert a.get("gen_ai.usage.reasoning.output_tokens") == reasoning
        assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == d["model"]
    for sp in tools:
        a = attrs(sp.attributes)
        assert sp.name == f"execute_tool {a['gen_ai.tool.name']}" and sp.kind == sp.SPAN_KIND_INTERNAL
        assert a["gen_ai.tool.call.id"].startswith("call_")
    for sp in spans:
        unknown = {k for k in attrs(sp.attributes) if k.startswith("gen_ai.")} - GEN_AI_REGISTRY
        assert not unknown, (sp.name, unknown)
