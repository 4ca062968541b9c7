"""One LLM call counts once: the anthropic SDK's own span, an instrumentor's span (OpenInference:
parent; OpenLLMetry: sibling) and ``gb.llm()`` on the same response are one call — in-process, in
budgets, in ``/metrics`` and through the OTLP receiver. Real anthropic/openai SDKs on mocked
transports; costs from genai-prices' ``calc_price``."""

from __future__ import annotations

import functools
import importlib
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import glassbox as gb
from glassbox.analysis.costs import cost_report
from glassbox.analysis.query import Query
from glassbox.cost.dedupe import DUPLICATE_OF
from glassbox.cost.pricing import Pricer
from glassbox.monitoring.metrics import Metrics
from glassbox.otel import to_otel_spans
from glassbox.server import otlp
from glassbox.server.app import create_app
from glassbox.testing import capture

gp = importlib.import_module("genai_prices")
httpx2 = importlib.import_module("httpx2")
anthropic = importlib.import_module("anthropic")
openai = importlib.import_module("openai")


def claude_body(n: int, inp: int, out: int, read: int, write: int) -> dict[str, Any]:
    return {
        "id": f"msg_{n:02d}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": inp,
            "output_tokens": out,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        },
    }


CALLS = [claude_body(1, 3000, 600, 2000, 1000), claude_body(2, 1420, 780, 4000, 0)]


def claude_cost(body: dict[str, Any]) -> float:
    u = body["usage"]
    usage = gp.Usage(
        input_tokens=u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"],
        output_tokens=u["output_tokens"],
        cache_read_tokens=u["cache_read_input_tokens"],
        cache_write_tokens=u["cache_creation_input_tokens"],
    )
    return float(gp.calc_price(usage, "claude-sonnet-4-5", provider_id="anthropic").total_price)


EXPECTED_COST = sum(claude_cost(b) for b in CALLS)
EXPECTED_IN = sum(
    b["usage"]["input_tokens"] + b["usage"]["cache_read_input_tokens"] + b["usage"]["cache_creation_input_tokens"]
    for b in CALLS
)
EXPECTED_OUT = sum(b["usage"]["output_tokens"] for b in CALLS)


def claude_client() -> Any:
    bodies = itertools.cycle(CALLS)
    http = httpx2.Client(transport=httpx2.MockTransport(lambda req: httpx2.Response(200, json=next(bodies))))
    return anthropic.Anthropic(api_key="sk-test", base_url="http://anthropic.test", http_client=http, max_retries=0)


def ask(client: Any) -> Any:
    return client.messages.create(
        model="claude-sonnet-4-5", max_tokens=1000, messages=[{"role": "user", "content": "hi"}]
    )


@pytest.fixture
def app_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)  # the API sets the global once per process
    yield provider, exporter
    provider.shutdown()


INSTRUMENTORS = {
    "none": None,
    "openinference": "openinference.instrumentation.anthropic",
    "openllmetry": "opentelemetry.instrumentation.anthropic",
}


@pytest.fixture(params=list(INSTRUMENTORS))
def instrumentor(request: pytest.FixtureRequest, app_provider: Any) -> Iterator[str]:
    module = INSTRUMENTORS[request.param]
    inst = None
    if module is not None:
        inst = importlib.import_module(module).AnthropicInstrumentor()
        inst.instrument(tracer_provider=app_provider[0])
    yield request.param
    if inst is not None:
        inst.uninstrument()


@pytest.fixture(params=["sdk-spans", "ANTHROPIC_OPEN_TELEMETRY=false"])
def sdk_spans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param != "sdk-spans":
        monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")  # read when the client is constructed
    else:
        monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    return request.param == "sdk-spans"


def metric(metrics: Metrics, name: str) -> float:
    return sum(s.value for m in metrics.registry.collect() for s in m.samples if s.name == name)


def scraped(text: str, name: str) -> float:
    """The sum of a counter's series in a /metrics exposition."""
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(name + "{"))


def describers(trace: Any) -> list[Any]:
    """Spans that carry a call's usage (priced, or a duplicate of a priced one)."""
    return [
        s
        for s in trace.spans
        if s.attributes
        and ("gen_ai.usage.output_tokens" in s.attributes or "llm.token_count.completion" in s.attributes)
    ]


@pytest.mark.parametrize("with_gb_llm", [False, True], ids=["instrumented", "instrumented+gb.llm"])
@pytest.mark.parametrize("stage_kind", ["stage", "llm"])
def test_each_call_counts_once_in_process(
    instrumentor: str, sdk_spans: bool, with_gb_llm: bool, stage_kind: str
) -> None:
    client = claude_client()
    with capture(heuristics=False) as got:
        with gb.trace("two claude calls", budget=gb.Budget(max_usd=10.0)) as t:
            for _ in CALLS:
                with gb.stage("answer", kind=stage_kind):
                    resp = ask(client)
                    if with_gb_llm:
                        gb.llm(resp)
    (tr,) = got
    spans_per_call = int(sdk_spans) + int(instrumentor != "none") + int(with_gb_llm)
    if spans_per_call == 0:
        assert tr.cost_usd is None
        return
    assert len(describers(tr)) == spans_per_call * len(CALLS)  # every span is kept, with its attributes
    priced = [s for s in tr.spans if s.cost_usd is not None]
    assert len(priced) == len(CALLS)
    assert tr.cost_usd == pytest.approx(EXPECTED_COST, rel=1e-12)
    assert (tr.tokens_in, tr.tokens_out) == (EXPECTED_IN, EXPECTED_OUT)
    assert float(t._spent) == pytest.approx(EXPECTED_COST, rel=1e-12)  # the budget saw one count per call
    losers = [s for s in tr.spans if s.attributes and DUPLICATE_OF in s.attributes]
    assert len(losers) == (spans_per_call - 1) * len(CALLS)
    ids = {s.span_id for s in priced}
    assert all(s.attributes[DUPLICATE_OF] in ids and s.tokens_in is None for s in losers)
    if sdk_spans or with_gb_llm:  # the most complete usage (with the 5m/1h split) carries the call
        assert all(
            s.attributes.get("anthropic.usage.cache_creation.ephemeral_5m_input_tokens") is not None for s in priced
        )
    metrics = Metrics()
    metrics.observe([tr])
    assert metric(metrics, "glassbox_llm_cost_usd_total") == pytest.approx(EXPECTED_COST, rel=1e-12)
    assert metric(metrics, "glassbox_llm_tokens_total") == EXPECTED_IN + EXPECTED_OUT


def test_two_identical_gb_llm_calls_stay_two_calls(app_provider: Any) -> None:
    """Each gb.llm() is a call of its own, even with the same usage (a loop over a cached answer)."""
    resp = anthropic.types.Message.model_validate(CALLS[0])
    with capture(heuristics=False) as got, gb.trace("q"), gb.stage("answer", kind="llm"):
        gb.llm(resp)
        gb.llm(resp)
    assert got[0].cost_usd == pytest.approx(2 * claude_cost(CALLS[0]), rel=1e-12)


def test_openai_instrumentor_and_gb_llm_count_once(app_provider: Any) -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 200},
        },
    }
    http = httpx2.Client(transport=httpx2.MockTransport(lambda req: httpx2.Response(200, json=body)))
    client = openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1", http_client=http, max_retries=0)
    expected = float(
        gp.calc_price(
            gp.Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=200), "gpt-4o-mini", provider_id="openai"
        ).total_price
    )
    for module in ("openinference.instrumentation.openai", "opentelemetry.instrumentation.openai"):
        inst = importlib.import_module(module).OpenAIInstrumentor()
        inst.instrument(tracer_provider=app_provider[0])
        try:
            with capture(heuristics=False) as got, gb.trace("q"), gb.stage("answer"):
                resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "q"}])
                gb.llm(resp)
        finally:
            inst.uninstrument()
        (tr,) = got
        assert len(describers(tr)) == 2, module
        assert tr.cost_usd == pytest.approx(expected, rel=1e-12), module
        assert tr.tokens_in == 1200, module


# -- through the OTLP receiver: an app without glassbox in-process ------------------------------------


def app_spans(provider: TracerProvider, exporter: InMemorySpanExporter) -> list[Any]:
    client = claude_client()
    with provider.get_tracer("app").start_as_current_span("POST /ask"):
        for _ in CALLS:
            ask(client)
    return list(exporter.get_finished_spans())


def test_otlp_decode_counts_each_call_once(instrumentor: str, sdk_spans: bool, app_provider: Any) -> None:
    spans = app_spans(*app_provider)
    body = encode_spans(spans).SerializeToString()
    (t,) = otlp.decode(otlp.parse(body, "application/x-protobuf"), project=None, pricer=Pricer()).traces
    if not sdk_spans and instrumentor == "none":
        assert t.cost_usd is None
        return
    assert t.cost_usd == pytest.approx(EXPECTED_COST, rel=1e-12)
    assert (t.tokens_in, t.tokens_out) == (EXPECTED_IN, EXPECTED_OUT)
    # order-independent: the same spans in reverse give the same winners
    (back,) = otlp.decode(
        otlp.parse(encode_spans(spans[::-1]).SerializeToString(), "application/x-protobuf"),
        project=None,
        pricer=Pricer(),
    ).traces
    assert {s.span_id for s in back.spans if s.cost_usd} == {s.span_id for s in t.spans if s.cost_usd}


@pytest.mark.parametrize("instrumentor", ["openinference", "openllmetry"], indirect=True)
def test_the_receiver_stores_one_count_per_call(
    store: Any, instrumentor: str, app_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    spans = app_spans(*app_provider)
    trace_id = f"{spans[0].context.trace_id:032x}"
    with TestClient(create_app(store, calibration=False)) as c:
        r = c.post(
            "/v1/traces",
            content=encode_spans(spans).SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
        )
        assert r.status_code == 200
        q = Query(store)
        for _ in range(200):
            if q.summary()["runs"] == 1:
                break
            time.sleep(0.05)
        stored = q.trace(trace_id)
        assert stored.cost_usd == pytest.approx(EXPECTED_COST, rel=1e-9)
        assert (stored.tokens_in, stored.tokens_out) == (EXPECTED_IN, EXPECTED_OUT)
        assert len(describers(stored)) == 2 * len(CALLS)
        text = c.get("/metrics").text
    assert scraped(text, "glassbox_llm_cost_usd_total") == pytest.approx(EXPECTED_COST, rel=1e-9)
    assert scraped(text, "glassbox_llm_calls_total") == len(CALLS)  # a duplicate span is not a call of its own


@functools.cache
def _mixed_spans() -> tuple[Any, ...]:
    """Spans of two calls, each described twice: the SDK's own span and OpenInference's parent span."""
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    inst = importlib.import_module(INSTRUMENTORS["openinference"]).AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        bodies = itertools.cycle(CALLS)
        http = httpx2.Client(transport=httpx2.MockTransport(lambda req: httpx2.Response(200, json=next(bodies))))
        client = anthropic.Anthropic(
            api_key="sk-test",
            base_url="http://anthropic.test",
            http_client=http,
            max_retries=0,
            open_telemetry={"tracer_provider": provider},
        )
        with provider.get_tracer("app").start_as_current_span("POST /ask"):
            for _ in CALLS:
                ask(client)
    finally:
        inst.uninstrument()
    spans = tuple(exporter.get_finished_spans())
    assert len(spans) == 1 + 2 * len(CALLS)
    return spans


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(range(1 + 2 * len(CALLS))))
def test_winners_do_not_depend_on_span_order(order: list[int]) -> None:
    spans = _mixed_spans()
    body = encode_spans([spans[i] for i in order]).SerializeToString()
    (t,) = otlp.decode(otlp.parse(body, "application/x-protobuf"), project=None, pricer=Pricer()).traces
    assert t.cost_usd == pytest.approx(EXPECTED_COST, rel=1e-12)
    winners = {s.name for s in t.spans if s.cost_usd is not None}
    assert winners == {"anthropic.messages.create"}  # the SDK's span: the most complete usage (5m/1h split, id)


def test_glassbox_export_keeps_the_one_count(app_provider: Any) -> None:
    """A trace whose duplicates glassbox judged in-process, sent on over OTLP (remote mode), counts the same."""
    inst = importlib.import_module(INSTRUMENTORS["openllmetry"]).AnthropicInstrumentor()
    inst.instrument(tracer_provider=app_provider[0])
    try:
        client = claude_client()
        with capture(heuristics=False) as got, gb.trace("q"):
            for _ in CALLS:
                with gb.stage("answer"):
                    gb.llm(ask(client))
    finally:
        inst.uninstrument()
    body = encode_spans(to_otel_spans(got[0])).SerializeToString()
    (back,) = otlp.decode(otlp.parse(body, "application/x-protobuf"), project=None, pricer=Pricer()).traces
    assert back.cost_usd == pytest.approx(EXPECTED_COST, rel=1e-12)
    assert (back.tokens_in, back.tokens_out) == (EXPECTED_IN, EXPECTED_OUT)


@pytest.mark.parametrize("instrumentor", ["openinference", "openllmetry"], indirect=True)
def test_two_calls_with_the_same_usage_stay_two_calls(
    instrumentor: str, app_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop asking the same question twice: same usage, same model, one after the other."""
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    ids = itertools.count(1)
    http = httpx2.Client(
        transport=httpx2.MockTransport(
            lambda req: httpx2.Response(200, json={**CALLS[0], "id": f"msg_{next(ids):02d}"})
        )
    )
    client = anthropic.Anthropic(api_key="sk-test", base_url="http://anthropic.test", http_client=http, max_retries=0)
    with capture(heuristics=False) as got, gb.trace("q"):
        for _ in range(2):
            with gb.stage("answer"):
                gb.llm(ask(client))
    (tr,) = got
    assert len([s for s in tr.spans if s.cost_usd is not None]) == 2
    assert tr.cost_usd == pytest.approx(2 * claude_cost(CALLS[0]), rel=1e-12)
    body = encode_spans(list(app_provider[1].get_finished_spans())).SerializeToString()
    (t,) = otlp.decode(otlp.parse(body, "application/x-protobuf"), project=None, pricer=Pricer()).traces
    assert t.cost_usd == pytest.approx(2 * claude_cost(CALLS[0]), rel=1e-12)


@pytest.mark.parametrize("first", ["sdk", "instrumentor"])
def test_spans_of_one_call_in_different_requests_count_once(
    store: Any, first: str, app_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's span in one export request, OpenInference's in the next (either order): one count."""
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    inst = importlib.import_module(INSTRUMENTORS["openinference"]).AnthropicInstrumentor()
    inst.instrument(tracer_provider=app_provider[0])
    try:
        spans = app_spans(*app_provider)
    finally:
        inst.uninstrument()
    sdk = [s for s in spans if s.instrumentation_scope.name == "com.anthropic.sdk.python"]
    rest = [s for s in spans if s not in sdk]
    requests = [sdk, rest] if first == "sdk" else [rest, sdk]
    trace_id = f"{spans[0].context.trace_id:032x}"
    with TestClient(create_app(store, calibration=False)) as c:
        q = Query(store)
        for i, part in enumerate(requests):
            r = c.post(
                "/v1/traces",
                content=encode_spans(part).SerializeToString(),
                headers={"content-type": "application/x-protobuf"},
            )
            assert r.status_code == 200
            for _ in range(200):  # the receiver writes in the background
                t = q.trace(trace_id) if q.summary()["runs"] else None
                if t is not None and len(t.spans) >= sum(len(p) for p in requests[: i + 1]):
                    break
                time.sleep(0.05)
        stored = q.trace(trace_id)
        for _ in range(200):  # /metrics is fed after the store write: until both segments' spans are in
            text = c.get("/metrics").text
            if scraped(text, "glassbox_stages_total") >= len(spans) - 1:
                break
            time.sleep(0.05)
    assert stored.cost_usd == pytest.approx(EXPECTED_COST, rel=1e-9)
    assert (stored.tokens_in, stored.tokens_out) == (EXPECTED_IN, EXPECTED_OUT)
    # /metrics counts the run, its calls, tokens and cost once, whichever request brought the carrier.
    assert scraped(text, "glassbox_traces_total") == 1
    assert scraped(text, "glassbox_llm_calls_total") == len(CALLS)
    assert scraped(text, "glassbox_llm_tokens_total") == EXPECTED_IN + EXPECTED_OUT
    assert scraped(text, "glassbox_llm_cost_usd_total") == pytest.approx(EXPECTED_COST, rel=1e-9)
    assert scraped(text, "glassbox_stages_total") == len(spans) - 1  # each span once (the root is the run)
    carriers = [s for s in stored.spans if s.cost_usd is not None]
    assert {s.name for s in carriers} == {"anthropic.messages.create"}  # the most complete, whichever came first
    assert cost_report(
        store, days=3650, by="model", until=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    ).cost_usd == pytest.approx(EXPECTED_COST, rel=1e-9)
