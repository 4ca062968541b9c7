"""OTLP payloads -> glassbox traces: lossless round trip of glassbox's own spans, OTLP/JSON, LLM conventions."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

import glassbox as gb
from glassbox.cost.pricing import Pricer
from glassbox.cost.record import make_pricer
from glassbox.cost.usage import extract_usage_from_attributes
from glassbox.otel import to_otel_spans
from glassbox.server import otlp
from glassbox.testing import capture


def roundtrip(trace, project=None):
    body = encode_spans(to_otel_spans(trace)).SerializeToString()
    (back,) = otlp.decode(otlp.parse(body, "application/x-protobuf"), project=project).traces
    return back


def canonical(doc: dict) -> dict:
    for key in ("decisions", "scores", "events"):
        doc[key] = sorted(doc[key], key=lambda x: (x["at_ns"], x["id"]))
    doc["spans"] = sorted(doc["spans"], key=lambda x: x["span_id"])
    return doc


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
number = st.floats(allow_nan=False, allow_infinity=False, width=32)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | number | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    decisions=st.lists(
        st.tuples(
            text.filter(bool),
            st.none() | text,
            st.none() | number,
            st.dictionaries(text.filter(bool), st.none() | number, max_size=3),
            st.dictionaries(text, json_value, max_size=3),
        ),
        max_size=3,
    ),
    scores=st.lists(
        st.tuples(
            text.filter(bool),
            number,
            st.none() | number,
            st.none() | st.booleans(),
            st.dictionaries(text.filter(bool), number, max_size=3),
            st.none() | text,
        ),
        max_size=3,
    ),
    evidence=st.lists(st.tuples(text.filter(bool), st.dictionaries(text, json_value, max_size=3)), max_size=3),
    on_stage=st.booleans(),
)
def test_glassbox_spans_round_trip_losslessly(decisions, scores, evidence, on_stage):
    """What SDK remote mode sends (otel.to_otel_spans) comes back as the same decisions, evidence and scores."""
    with capture(heuristics=False) as got:
        with gb.trace(
            "question?",
            workflow="wf",
            intent="i",
            tags=["a", "b"],
            metadata={"m": [1, "x"]},
            user_id="u",
            session_id="s",
        ) as t:
            with gb.stage("retrieve", kind="retrieval") if on_stage else gb.stage("outer"):
                for what, why, conf, alts, inputs in decisions:
                    gb.decision(what, why=why, confidence=conf, alternatives=alts, inputs=inputs)
                for name, payload in evidence:
                    gb.evidence(name, payload)
                for name, value, mx, passed, dims, comment in scores:
                    gb.score(name, value, max=mx, passed=passed, dimensions=dims, comment=comment)
            gb.score("quality", 0.5, comment="trace-level")
            try:
                with gb.stage("boom"):
                    raise ValueError("bad")
            except ValueError:
                pass
            t.output = {"answer": "42"}
    (orig,) = got.flush()
    assert canonical(roundtrip(orig).to_dict()) == canonical(orig.to_dict())


def sdk_spans(fn, service="svc"):
    mem = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(mem))
    fn(provider.get_tracer("app"))
    provider.shutdown()
    return encode_spans(mem.get_finished_spans())


def to_otlp_json(req) -> dict:
    """The OTLP/JSON encoding: protobuf's JSON mapping, but ids in hex (the OTLP spec's one exception)."""
    doc = json_format.MessageToDict(req)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for obj in (sp, *sp.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if obj.get(key):
                            obj[key] = base64.b64decode(obj[key]).hex()
    return doc


def test_json_encoding_decodes_like_protobuf_including_links():
    def app(tracer):
        with tracer.start_as_current_span("root") as root:
            ctx = root.get_span_context()
            with tracer.start_as_current_span("child", links=[__import__("opentelemetry.trace").trace.Link(ctx)]):
                pass

    req = sdk_spans(app)
    doc = to_otlp_json(req)
    assert len(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]) == 32  # hex, as the spec says
    from_json = otlp.decode(otlp.parse(json.dumps(doc).encode(), "application/json"), project="p").traces
    from_pb = otlp.decode(otlp.parse(req.SerializeToString(), "application/x-protobuf"), project="p").traces
    assert [t.to_dict() for t in from_json] == [t.to_dict() for t in from_pb]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz' + b"0" * 30 + b'"}]}]}]}', "not valid hex"),
        (b'{"resourceSpans": {"x": 1}}', "resourceSpans must be a list"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5, "kind": "nope"}]}]}]}',
            "not an OTLP trace export",
        ),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_malformed_json_names_the_problem(body, problem):
    with pytest.raises(otlp.PayloadError, match=problem):
        otlp.parse(body, "application/json")


def test_invalid_ids_are_rejected_one_by_one():
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "ok",
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "2",
                            },
                            {"traceId": "00" * 16, "spanId": "eee19b7ec3c1b175", "name": "zero trace id"},
                            {"traceId": "5b8efff798038103d269b633813fc60c", "name": "no span id"},
                        ]
                    }
                ]
            }
        ]
    }
    d = otlp.decode(otlp.parse(json.dumps(doc).encode(), "application/json"), project=None)
    assert (d.spans, d.rejected, len(d.traces)) == (3, 2, 1)
    assert "zero trace id" in d.problems[0] and "no span id" in d.problems[1]


USAGE = {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}
CONVENTIONS = {
    "gen_ai current": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        **USAGE,
    },
    "gen_ai legacy": {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.prompt_tokens": 1000,
        "gen_ai.usage.completion_tokens": 200,
    },
    "OpenInference": {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": "gpt-4o-mini",
        "llm.token_count.prompt": 1000,
        "llm.token_count.completion": 200,
    },
}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_llm_spans_of_every_convention_are_priced_like_sdk_calls(convention):
    attrs = CONVENTIONS[convention]

    def app(tracer):
        with tracer.start_as_current_span("chat gpt-4o-mini") as s:
            s.set_attributes(attrs)

    (t,) = otlp.decode(sdk_spans(app), project="p", pricer=make_pricer()).traces
    (span,) = t.spans
    expected = Pricer().price(extract_usage_from_attributes(CONVENTIONS["gen_ai current"]))
    assert (span.kind, span.model, span.tokens_in, span.tokens_out) == ("llm", "gpt-4o-mini", 1000, 200)
    assert span.cost_usd == pytest.approx(expected.cost_usd) and span.cost_usd > 0
    assert t.cost_source == "priced" and span.attributes["glassbox.cost.source"] == "priced"


def test_a_failed_foreign_trace_gets_status_and_error_like_the_sdk_gives():
    def app(tracer):
        with tracer.start_as_current_span("POST /ask") as root:
            try:
                with tracer.start_as_current_span("db.query"):
                    raise TimeoutError("db took too long")
            except TimeoutError:
                pass
            root.set_status(Status(StatusCode.ERROR, "upstream failed"))

    (t,) = otlp.decode(sdk_spans(app), project=None).traces
    assert t.status == "failed" and t.service == "svc" and t.project == "default"
    assert t.error["type"] == "TimeoutError" and t.error["stage"] == "db.query"
    assert "db took too long" in t.error["message"]


def test_the_keys_project_wins_over_the_payload_and_is_marked():
    def app(tracer):
        with tracer.start_as_current_span("x"):
            pass

    keyed = otlp.decode(sdk_spans(app), project="from-key").traces[0]
    open_ = otlp.decode(sdk_spans(app), project=None).traces[0]
    assert (keyed.project, keyed.keyed) == ("from-key", True)
    assert (open_.project, open_.keyed) == ("default", False)
