"""OpenTelemetry interop with the real SDK: context publishing, folding, continuation, OTLP export."""

from __future__ import annotations

import gzip
import http.server
import threading

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import glassbox as gb
from glassbox.testing import capture


@pytest.fixture
def app_provider(monkeypatch):
    """An app's own OTel SDK TracerProvider, installed as the global one."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The API allows setting the global provider once per process; tests swap it directly.
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider, exporter
    provider.shutdown()


def test_app_spans_nest_under_glassbox_stages_and_are_folded_in(app_provider):
    provider, exporter = app_provider
    tracer = provider.get_tracer("app")
    with capture() as traces:
        with gb.trace("q", workflow="rag") as t, gb.stage("synthesis", kind="llm") as st:
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                span.set_attribute("gen_ai.usage.input_tokens", 120)
                span.set_attribute("gen_ai.usage.output_tokens", 30)
    assert otel_trace.get_tracer_provider() is provider  # never replaced
    (app_span,) = exporter.get_finished_spans()  # the app's own pipeline still gets its span
    assert f"{app_span.context.trace_id:032x}" == t.trace_id
    assert f"{app_span.parent.span_id:016x}" == st.span_id
    (tr,) = traces
    folded = next(s for s in tr.spans if s.name == "chat gpt-4o-mini")
    assert folded.parent_id == st.span_id and folded.kind == "llm"
    assert (folded.model, folded.tokens_in, folded.tokens_out) == ("gpt-4o-mini", 120, 30)
    assert tr.tokens_in == 120


def test_openinference_and_legacy_genai_names_are_understood(app_provider):
    provider, _ = app_provider
    tracer = provider.get_tracer("oi")
    with capture() as traces, gb.trace("q"):
        with tracer.start_as_current_span("llm") as span:
            span.set_attribute("openinference.span.kind", "LLM")
            span.set_attribute("llm.model_name", "claude-3-5-haiku")
            span.set_attribute("llm.token_count.prompt", 11)
            span.set_attribute("llm.token_count.completion", 7)
        with tracer.start_as_current_span("legacy") as span:
            span.set_attribute("gen_ai.system", "openai")
            span.set_attribute("gen_ai.usage.prompt_tokens", 5)
            span.set_attribute("gen_ai.usage.completion_tokens", 2)
        with tracer.start_as_current_span("retriever") as span:
            span.set_attribute("openinference.span.kind", "RETRIEVER")
    spans = {s.name: s for s in traces[0].spans}
    assert (spans["llm"].kind, spans["llm"].model, spans["llm"].tokens_in, spans["llm"].tokens_out) == (
        "llm",
        "claude-3-5-haiku",
        11,
        7,
    )
    assert (spans["legacy"].kind, spans["legacy"].tokens_in, spans["legacy"].tokens_out) == ("llm", 5, 2)
    assert spans["retriever"].kind == "retrieval"


def test_failed_app_span_keeps_its_error(app_provider):
    provider, _ = app_provider
    tracer = provider.get_tracer("app")
    with capture() as traces, gb.trace("q"):
        try:
            with tracer.start_as_current_span("tool"):
                raise KeyError("missing")
        except KeyError:
            pass
    tool = next(s for s in traces[0].spans if s.name == "tool")
    assert tool.status == "error" and tool.error["type"] == "KeyError"


def test_glassbox_trace_inside_an_app_span_continues_that_trace(app_provider):
    provider, _ = app_provider
    tracer = provider.get_tracer("app")
    with capture() as traces:
        with tracer.start_as_current_span("http request") as outer, gb.trace("q") as t:
            pass
    ctx = outer.get_span_context()
    assert t.trace_id == f"{ctx.trace_id:032x}"
    assert traces[0].parent_span_id == f"{ctx.span_id:016x}"


def test_spans_of_other_traces_are_left_alone(app_provider):
    provider, exporter = app_provider
    tracer = provider.get_tracer("app")
    with capture() as traces:
        with gb.trace("q"):
            pass
        with tracer.start_as_current_span("unrelated"):
            pass
    assert [s.name for s in traces[0].spans] == ["trace"]
    assert [s.name for s in exporter.get_finished_spans()] == ["unrelated"]


def test_without_an_sdk_provider_no_hooks_run():
    with capture() as traces, gb.trace("q") as t, gb.stage("s"):
        assert t._hooks is None
        assert not otel_trace.get_current_span().get_span_context().is_valid
    assert len(traces[0].spans) == 2


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def collector():
    _Collector.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{server.server_port}", _Collector.bodies
    server.shutdown()


def test_otlp_export_sends_the_trace_with_decisions_as_span_events(collector):
    url, bodies = collector
    gb.configure(project="p", store=None, trail_dir=None, otlp_endpoint=url, flush_interval=0.05)
    with gb.trace("q", workflow="rag", user_id="u1") as t, gb.stage("retrieve", kind="retrieval") as st:
        gb.decision("bm25", why="short", confidence=0.8, alternatives={"dense": 0.6})
        gb.evidence("hits", {"n": 3})
        st.set(top_k=3)
    assert gb.flush(10)
    assert gb.health()["sinks"]["otlp"]["written"] == 1
    req = ExportTraceServiceRequest()
    req.ParseFromString(bodies[0])
    spans = {s.name: s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans}
    root, stage = spans["rag"], spans["retrieve"]
    assert root.trace_id.hex() == t.trace_id and stage.parent_span_id.hex() == root.span_id.hex()
    attrs = {a.key: a.value for a in stage.attributes}
    assert attrs["glassbox.kind"].string_value == "retrieval" and attrs["top_k"].int_value == 3
    events = {e.name: {a.key: a.value for a in e.attributes} for e in stage.events}
    assert events["glassbox.decision"]["glassbox.decision.what"].string_value == "bm25"
    assert events["glassbox.decision"]["glassbox.decision.confidence"].double_value == 0.8
    assert "hits" in events
    root_attrs = {a.key: a.value for a in root.attributes}
    assert root_attrs["user.id"].string_value == "u1" and root_attrs["input.value"].string_value == "q"
    res = {a.key: a.value.string_value for a in req.resource_spans[0].resource.attributes}
    assert res["service.name"] == "p"


def test_otlp_endpoint_down_is_counted_not_raised(tmp_path):
    gb.configure(
        store=f"sqlite:///{tmp_path}/x.db", trail_dir=None, otlp_endpoint="http://127.0.0.1:9/", flush_interval=0.05
    )
    with gb.trace("q"):
        pass
    assert gb.flush(30)
    h = gb.health()["sinks"]
    assert h["otlp"]["errors"] == 1 and "failed" in h["otlp"]["last_error"]
    assert h["database"]["written"] == 1  # the other sink is unaffected
