"""OTLP in -> glassbox (store, SQLite and PostgreSQL) -> OTLP out keeps every field a sender sent.

Fixtures: the opentelemetry-proto repository's ``examples/trace.json`` and spans in the shape the
OpenTelemetry JS SDK's OTLP/JSON exporter sends (tests/fixtures/otlp/README.md says where each comes from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceState

import glassbox as gb
from glassbox.otel import to_otel_spans
from glassbox.server import otlp
from glassbox.server.app import create_app
from glassbox.testing import capture

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "otlp"


def _kv(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: kv.get("value") for kv in items or []}


def _normal(obj: Any) -> Any:
    """protobuf's JSON mapping with attribute lists as maps (order-free) and defaults left out."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            value = _normal(_kv(v) if k == "attributes" and isinstance(v, list) else v)
            if value not in (0, "", [], {}, None, "0"):
                out[k] = value
        return out
    if isinstance(obj, list):
        return [_normal(x) for x in obj]
    return obj


def spans_of(req: Any) -> dict[str, dict[str, Any]]:
    """Each span of an export request with its resource and scope, by span id (hex)."""
    doc = json_format.MessageToDict(req)
    out = {}
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                import base64

                for obj in (sp, *sp.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if obj.get(key):
                            obj[key] = base64.b64decode(obj[key]).hex()
                out[sp["spanId"]] = _normal(
                    {"resource": rs.get("resource", {}), "scope": ss.get("scope", {}), "span": sp}
                )
    return out


def assert_kept(sent: Any, got: Any, where: str = "") -> None:
    """Every field sent is in what came out, with the same value (more may have been added)."""
    if isinstance(sent, dict):
        assert isinstance(got, dict), f"{where}: {got!r}"
        for k, v in sent.items():
            assert k in got, f"{where}.{k} lost (got {sorted(got)})"
            assert_kept(v, got[k], f"{where}.{k}")
    elif isinstance(sent, list):
        assert isinstance(got, list) and len(got) == len(sent), f"{where}: {got!r}"
        for i, (a, b) in enumerate(zip(sent, got, strict=True)):
            assert_kept(a, b, f"{where}[{i}]")
    else:
        assert sent == got, f"{where}: sent {sent!r}, got {got!r}"


def through_glassbox(store, body: bytes, content_type: str = "application/json") -> tuple[Any, Any]:
    """(the request as parsed, the request glassbox exports after storing and reading it back)."""
    req = otlp.parse(body, content_type)
    decoded = otlp.decode(req, project="p")
    store.write_traces(decoded.traces)
    back = [store.get_trace(t.trace_id) for t in decoded.traces]
    return req, encode_spans([s for t in back for s in to_otel_spans(t)])


@pytest.mark.parametrize("fixture", ["opentelemetry-proto-trace.json", "js-sdk-trace.json"])
def test_every_field_of_the_fixture_survives_the_round_trip(store, fixture):
    sent, got = through_glassbox(store, (FIXTURES / fixture).read_bytes())
    sent_spans, got_spans = spans_of(sent), spans_of(got)
    assert sent_spans.keys() == got_spans.keys()
    for sid, span in sent_spans.items():
        for link in span["span"].get("links", []):
            # Stored and shown, but the OpenTelemetry Python encoder glassbox exports with does not write a
            # link's trace state (opentelemetry-exporter-otlp-proto-common's _encode_links): a known gap.
            link.pop("traceState", None)
        assert_kept(span, got_spans[sid], sid)


def test_the_example_file_is_stored_with_its_kind_resource_and_scope(store):
    through_glassbox(store, (FIXTURES / "opentelemetry-proto-trace.json").read_bytes())
    t = store.get_trace("5b8efff798038103d269b633813fc60c")
    (s,) = t.spans
    assert s.otel_kind == "server" and s.service == "my.service"
    assert s.scope == {
        "name": "my.library",
        "version": "1.0.0",
        "attributes": {"my.scope.attribute": "some scope attribute"},
    }
    assert s.attributes["my.span.attr"] == "some value"
    assert s.parent_id == "eee19b7ec3c1b173"  # a remote parent, kept


def test_js_sdk_spans_keep_links_trace_state_and_the_status_message_next_to_the_exception(store):
    through_glassbox(store, (FIXTURES / "js-sdk-trace.json").read_bytes())
    t = store.get_trace("4bf92f3577b34da6a3ce929d0e0e4736")
    by_name = {s.name: s for s in t.spans}
    root = by_name["POST /api/ask"]
    assert root.error["type"] == "TypeError" and root.error["message"] == "Cannot read properties of undefined"
    assert root.status_message == "upstream answer could not be parsed"
    assert root.trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert root.resource["telemetry.sdk.language"] == "nodejs" and root.resource["process.pid"] == 41235
    pub = by_name["queue.publish answers"]
    assert pub.otel_kind == "producer" and by_name["GET upstream"].otel_kind == "client"
    assert pub.links == [
        {
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "span_id": "b9c7c989f97918e1",
            "trace_state": "congo=ucfJifl5GOE",
            "attributes": {"link.reason": "retry of"},
        },
        {"trace_id": "0af7651916cd43dd8448eb211c80319d", "span_id": "b9c7c989f97918e2"},
    ]
    assert pub.scope == {"name": "ask-service", "version": "2.3.0", "attributes": {"team": "search"}}


def test_the_run_json_and_show_verbose_show_the_otel_fields(store):
    from typer.testing import CliRunner

    from glassbox.cli.app import app

    through_glassbox(store, (FIXTURES / "js-sdk-trace.json").read_bytes())
    with TestClient(create_app(store)) as client:
        doc = client.get("/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736").json()
    spans = {s["name"]: s for s in doc["spans"]}
    assert spans["queue.publish answers"]["otel_kind"] == "producer"
    assert spans["queue.publish answers"]["links"][0]["trace_state"] == "congo=ucfJifl5GOE"
    assert spans["POST /api/ask"]["resource"]["service.name"] == "web-frontend"
    assert spans["POST /api/ask"]["status_message"] == "upstream answer could not be parsed"
    out = CliRunner().invoke(app, ["show", "4bf92f3577b3", "--verbose", "--store", store.url], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "producer" in out.output and "ask-service 2.3.0" in out.output and "2 links" in out.output
    assert "upstream answer could not be parsed" in out.output


def test_in_process_foreign_spans_keep_kind_links_resource_scope_and_trace_state(monkeypatch):
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import SpanContext

    provider = TracerProvider(resource=Resource({"service.name": "app", "deployment.environment.name": "prod"}))
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)  # the API sets the global provider once a process
    tracer = provider.get_tracer("my.instrumentation", "3.1.0", attributes={"lib.flag": True})
    other = SpanContext(int("ab" * 16, 16), int("cd" * 8, 16), is_remote=True, trace_state=TraceState([("k", "v")]))
    with capture(project="p") as got:
        with gb.trace("run"):
            with tracer.start_as_current_span(
                "call", kind=SpanKind.CLIENT, links=[Link(other, {"why": "batch"})]
            ) as sp:
                sp.set_status(Status(StatusCode.ERROR, "remote said no"))
    provider.shutdown()
    (t,) = got
    call = next(s for s in t.spans if s.name == "call")
    assert call.otel_kind == "client" and call.status_message == "remote said no"
    assert call.scope == {"name": "my.instrumentation", "version": "3.1.0", "attributes": {"lib.flag": True}}
    assert call.resource == {"service.name": "app", "deployment.environment.name": "prod"}
    assert call.links == [
        {"trace_id": "ab" * 16, "span_id": "cd" * 8, "trace_state": "k=v", "attributes": {"why": "batch"}}
    ]


def test_export_invents_no_request_model_and_classifies_every_stage_for_openinference():
    with capture(project="p", heuristics=False) as got:
        with gb.trace("q"):
            with gb.stage("fetch", kind="retrieval"):
                pass
            with gb.stage("prepare"):
                pass
            with gb.stage("answer", kind="llm") as s:
                s.model, s.tokens_in, s.tokens_out = "gpt-4o-mini-2024-07-18", 10, 2
    (t,) = got
    spans = {
        "root" if s.context.span_id == int(t.root_span_id, 16) else s.name: dict(s.attributes) for s in to_otel_spans(t)
    }
    assert "gen_ai.request.model" not in spans["answer"]
    assert spans["answer"]["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert spans["answer"]["openinference.span.kind"] == "LLM"
    assert spans["fetch"]["openinference.span.kind"] == "RETRIEVER"
    assert spans["prepare"]["openinference.span.kind"] == "CHAIN"
    assert spans["root"]["openinference.span.kind"] == "CHAIN"


def test_an_instrumentors_own_openinference_kind_and_request_model_are_sent_as_they_were():
    span = {
        "traceId": "11" * 16,
        "spanId": "22" * 8,
        "name": "rerank",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "attributes": [
            {"key": "openinference.span.kind", "value": {"stringValue": "RERANKER"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "rerank-v3"}},
        ],
    }
    body = json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                    "scopeSpans": [{"scope": {"name": "oi"}, "spans": [span]}],
                }
            ]
        }
    ).encode()
    (t,) = otlp.decode(otlp.parse(body, "application/json"), project="p").traces
    (out,) = to_otel_spans(t)
    assert out.attributes["openinference.span.kind"] == "RERANKER"
    assert out.attributes["gen_ai.request.model"] == "rerank-v3"


def test_otel_fields_survive_the_audit_trail_and_the_store(store, tmp_path):
    from glassbox.model import Span, Trace
    from glassbox.store.trail import TrailSink, read_trail, trail_files

    t = Trace("ef" * 16, "run", 1_000)
    t.end_ns, t.status, t.root_span_id, t.project = 9_000, "complete", "12" * 8, "p"
    s = Span(t.trace_id, "12" * 8, None, "run", "stage", 1_000)
    s.end_ns, s.status = 9_000, "ok"
    s.otel_kind, s.trace_state, s.status_message = "consumer", "a=1,b=2", "fine"
    s.links = [{"trace_id": "34" * 16, "span_id": "56" * 8, "attributes": {"n": [1, 2]}}]
    s.resource = {"service.name": "w", "k8s.pod.name": "w-1"}
    s.scope = {"name": "lib", "version": "1", "attributes": {"x": {"nested": True}}}
    t.spans = [s]
    TrailSink(tmp_path / "trail").write([t])
    (back,) = [x for f in trail_files([tmp_path / "trail"]) for _, x in read_trail(f)]
    assert back.to_dict() == t.to_dict()
    store.write_traces([back])
    assert store.get_trace(t.trace_id).to_dict() == t.to_dict()
    plain = Span(t.trace_id, "78" * 8, None, "x")
    assert not {"otel_kind", "links", "resource", "scope", "trace_state", "status_message"} & plain.to_dict().keys()
