"""capture_content and the redact hook govern instrumentors' prompt attributes too, in-process and through
the receiver: the real anthropic SDK (mocked transport) under OpenInference's and OpenLLMetry's instrumentors."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import glassbox as gb
from glassbox.content import CONTENT_KEYS, ContentPolicy, is_content_key
from glassbox.server.app import create_app
from glassbox.testing import capture

httpx2 = importlib.import_module("httpx2")
anthropic = importlib.import_module("anthropic")

SECRET = "card 4242-4242-4242-4242"
ANSWER = "your card is 4242-4242-4242-4242"
BODY = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": ANSWER}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 30, "output_tokens": 12},
}
INSTRUMENTORS = {
    "openinference": "openinference.instrumentation.anthropic",
    "openllmetry": "opentelemetry.instrumentation.anthropic",
}


def mask(text: str) -> str:
    return text.replace("4242", "####")


@pytest.fixture
def app_provider(monkeypatch) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)  # the API sets the global once per process
    monkeypatch.setenv("TRACELOOP_TRACE_CONTENT", "true")  # OpenLLMetry's default, made explicit
    yield provider, exporter
    provider.shutdown()


@pytest.fixture(params=list(INSTRUMENTORS))
def instrumented(request, app_provider) -> Iterator[str]:
    inst = importlib.import_module(INSTRUMENTORS[request.param]).AnthropicInstrumentor()
    inst.instrument(tracer_provider=app_provider[0])
    yield request.param
    inst.uninstrument()


def ask() -> None:
    http = httpx2.Client(transport=httpx2.MockTransport(lambda req: httpx2.Response(200, json=BODY)))
    client = anthropic.Anthropic(api_key="sk-test", base_url="http://anthropic.test", http_client=http, max_retries=0)
    client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": SECRET}])


def content_attrs(trace: Any) -> dict[str, Any]:
    return {k: v for s in trace.spans for k, v in (s.attributes or {}).items() if is_content_key(k)}


def test_without_capture_instrumentor_prompts_are_dropped_in_process(instrumented):
    with capture(project="p", capture_content=False) as got:
        with gb.trace("q"):
            ask()
    (t,) = got
    text = json.dumps(t.to_dict())
    assert "4242" not in text
    assert content_attrs(t) == {}
    assert t.tokens_out == 12 and t.cost_usd  # usage and cost are still read (one count per call)


def test_with_capture_instrumentor_prompts_pass_through_the_redact_hook_in_process(instrumented):
    with capture(project="p", capture_content=True, redact=mask) as got:
        with gb.trace("q"):
            ask()
    (t,) = got
    kept = content_attrs(t)
    assert kept, "the instrumentor's prompt attributes are kept with capture_content=True"
    assert "4242" not in json.dumps(t.to_dict())
    assert any("card ####-####" in json.dumps(v) for v in kept.values())


@pytest.mark.parametrize("capture_on", [False, True])
def test_the_receiver_applies_its_content_settings_to_instrumentor_spans(store, instrumented, app_provider, capture_on):
    with app_provider[0].get_tracer("app").start_as_current_span("POST /ask"):
        ask()
    body = encode_spans(app_provider[1].get_finished_spans()).SerializeToString()
    app = create_app(store)
    if capture_on:
        app.state.content_policy = ContentPolicy(True, mask)
    with TestClient(app) as client:
        r = client.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 200
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not store.list_traces():
            time.sleep(0.05)
    (row,) = store.list_traces()
    t = store.get_trace(row["trace_id"])
    assert "4242" not in json.dumps(t.to_dict())
    assert bool(content_attrs(t)) is capture_on
    assert t.tokens_out == 12


def test_the_receiver_keeps_glassbox_spans_content_as_the_sdk_sent_it(store):
    from glassbox.otel import to_otel_spans

    with capture(project="p", capture_content=True, heuristics=False) as got:
        with gb.trace({"question": "why?"}), gb.stage("answer", kind="llm"):
            gb.llm(prompt="why is the sky blue", completion="rayleigh", model="gpt-4o-mini", provider="openai")
    body = encode_spans(to_otel_spans(got[0])).SerializeToString()
    with TestClient(create_app(store)) as client:  # the server's own setting: capture off
        assert (
            client.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}).status_code
            == 200
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not store.list_traces():
            time.sleep(0.05)
    t = store.get_trace(got[0].trace_id)
    assert t.input == {"question": "why?"}
    assert any((s.attributes or {}).get("gen_ai.prompt") == "why is the sky blue" for s in t.spans)


@pytest.mark.parametrize(
    "key",
    [
        *CONTENT_KEYS,
        "llm.input_messages.0.message.content",
        "gen_ai.prompt.0.content",
        "gen_ai.completion.1.content",
        "llm.output_messages.2.message.contents.0",
    ],
)
def test_every_documented_content_key_is_matched(key):
    assert is_content_key(key)
    assert ContentPolicy(False).attributes({key: "x", "gen_ai.usage.prompt_tokens": 3}) == {
        "gen_ai.usage.prompt_tokens": 3
    }


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.prompt_tokens",
        "input.mime_type",
        "llm.model_name",
        "gen_ai.request.model",
        "llm.token_count.prompt",
        "gen_ai.promptly",
    ],
)
def test_other_attributes_are_not_content(key):
    assert not is_content_key(key)


def test_a_failing_redact_hook_drops_the_text():
    def broken(text: str) -> str:
        raise RuntimeError("no")

    out = ContentPolicy(True, broken).attributes({"input.value": SECRET, "llm.model_name": "m"})
    assert out == {"input.value": "[redaction failed]", "llm.model_name": "m"}
