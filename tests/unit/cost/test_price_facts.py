"""Everything genai-prices prices reaches it: cache writes by TTL, service tiers, audio tokens,
server-side tool requests, the call's own date — from real SDK response types, from every span
attribute convention, and through the OTLP receiver. Each cost equals ``genai_prices.calc_price``
on the same facts."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from glassbox.cost.attributes import USAGE_ATTRIBUTES, markdown_table
from glassbox.cost.pricing import Pricer
from glassbox.cost.usage import LLMUsage, extract_usage, extract_usage_from_attributes
from glassbox.server import otlp

gp = importlib.import_module("genai_prices")
openai_types = importlib.import_module("openai.types")
anthropic_types = importlib.import_module("anthropic.types")
genai_types = importlib.import_module("google.genai.types")
lc_messages = importlib.import_module("langchain_core.messages")

DOCS = Path(__file__).resolve().parents[3] / "docs" / "costs.md"


def calc(
    model: str, provider: str, *, context: dict[str, str] | None = None, at: datetime | None = None, **usage: int
) -> float:
    result = gp.calc_price(
        gp.Usage(**usage), model, provider_id=provider, price_context=context, genai_request_timestamp=at
    )
    return float(result.total_price)


def cost(usage: LLMUsage | None, at: datetime | None = None) -> float:
    assert usage is not None
    result = Pricer().price(usage, at=at)
    assert result.source == "priced", result
    assert result.cost_usd is not None
    return result.cost_usd


ANTHROPIC_BODY: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 400,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
    },
}
ANTHROPIC_FACTS = {
    "input_tokens": 4400,
    "output_tokens": 200,
    "cache_read_tokens": 400,
    "cache_write_tokens": 3000,
    "cache_write_5m_tokens": 1000,
    "cache_write_1h_tokens": 2000,
}


# -- item 2: Anthropic cache writes, every spelling --------------------------------------------------


def test_anthropic_sdk_span_cache_writes_are_priced_as_writes() -> None:
    """The anthropic SDK's own span names writes gen_ai.usage.cache_write.input_tokens (+ 5m/1h parts)."""
    attrs = {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
        "gen_ai.usage.input_tokens": 4400,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cache_read.input_tokens": 400,
        "gen_ai.usage.cache_write.input_tokens": 3000,
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 1000,
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 2000,
    }
    u = extract_usage_from_attributes(attrs)
    assert u is not None
    assert (u.input_tokens, u.cache_write_tokens, u.cache_write_1h_tokens, u.cache_write_5m_tokens) == (
        1000,
        3000,
        2000,
        1000,
    )
    assert cost(u) == pytest.approx(calc("claude-sonnet-4-5", "anthropic", **ANTHROPIC_FACTS), rel=1e-12)


@pytest.mark.parametrize("write_key", [r.name for r in USAGE_ATTRIBUTES if r.figure == "cache_write"])
def test_every_cache_write_spelling_is_read(write_key: str) -> None:
    attrs = {
        "gen_ai.system": "anthropic",
        "gen_ai.response.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 4400,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cache_read.input_tokens": 400,
        write_key: 3000,
    }
    u = extract_usage_from_attributes(attrs)
    assert u is not None and u.cache_write_tokens == 3000 and u.input_tokens == 1000
    facts = {**ANTHROPIC_FACTS, "cache_write_1h_tokens": 0, "cache_write_5m_tokens": 0}
    assert cost(u) == pytest.approx(calc("claude-sonnet-4-5", "anthropic", **facts), rel=1e-12)


def test_only_the_ttl_parts_make_the_write_total() -> None:
    attrs = {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.response.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 4400,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cache_read.input_tokens": 400,
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 1000,
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 2000,
    }
    u = extract_usage_from_attributes(attrs)
    assert u is not None and u.cache_write_tokens == 3000
    assert cost(u) == pytest.approx(calc("claude-sonnet-4-5", "anthropic", **ANTHROPIC_FACTS), rel=1e-12)


def test_anthropic_message_with_ttl_breakdown_equals_genai_prices() -> None:
    u = extract_usage(anthropic_types.Message.model_validate(ANTHROPIC_BODY))
    assert u is not None and u.cache_write_5m_tokens == 1000 and u.response_id == "msg_01"
    assert cost(u) == pytest.approx(calc("claude-sonnet-4-5", "anthropic", **ANTHROPIC_FACTS), rel=1e-12)


def test_docs_show_the_code_attribute_table() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8")


# -- item 14: service tiers -------------------------------------------------------------------------


def chat_body(model: str, prompt: int, completion: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            **extra.pop("usage", {}),
        },
        **extra,
    }


@pytest.mark.parametrize(("model", "tier"), [("o4-mini", "flex"), ("gpt-5", "priority"), ("gpt-5", "flex")])
def test_openai_service_tier_is_priced_at_its_rate(model: str, tier: str) -> None:
    resp = openai_types.chat.ChatCompletion.model_validate(chat_body(model, 1808, 1400, service_tier=tier))
    u = extract_usage(resp)
    assert u is not None and u.service_tier == tier
    tiered = calc(model, "openai", context={"service_tier": tier}, input_tokens=1808, output_tokens=1400)
    standard = calc(model, "openai", input_tokens=1808, output_tokens=1400)
    assert tiered != standard
    assert cost(u) == pytest.approx(tiered, rel=1e-12)


def test_openai_default_tier_is_the_standard_price() -> None:
    body = chat_body("gpt-5", 1000, 100, service_tier="default")
    u = extract_usage(openai_types.chat.ChatCompletion.model_validate(body))
    assert cost(u) == pytest.approx(calc("gpt-5", "openai", input_tokens=1000, output_tokens=100), rel=1e-12)


def test_anthropic_batch_is_half_price() -> None:
    body = {**ANTHROPIC_BODY, "usage": {**ANTHROPIC_BODY["usage"], "service_tier": "batch"}}
    u = extract_usage(anthropic_types.Message.model_validate(body))
    assert u is not None and u.service_tier == "batch"
    expected = calc("claude-sonnet-4-5", "anthropic", context={"processing": "batch"}, **ANTHROPIC_FACTS)
    assert expected < calc("claude-sonnet-4-5", "anthropic", **ANTHROPIC_FACTS)
    assert cost(u) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("key", [r.name for r in USAGE_ATTRIBUTES if r.figure == "service_tier"])
def test_service_tier_attributes_are_read(key: str) -> None:
    attrs = {
        "gen_ai.provider.name": "openai",
        "gen_ai.response.model": "o4-mini",
        "gen_ai.usage.input_tokens": 1808,
        "gen_ai.usage.output_tokens": 1400,
        key: "flex",
    }
    expected = calc("o4-mini", "openai", context={"service_tier": "flex"}, input_tokens=1808, output_tokens=1400)
    assert cost(extract_usage_from_attributes(attrs)) == pytest.approx(expected, rel=1e-12)


# -- item 15: audio tokens --------------------------------------------------------------------------


def test_gpt_audio_tokens_are_priced_at_audio_rates() -> None:
    details = {
        "prompt_tokens_details": {"audio_tokens": 1000, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 600},
    }
    body = chat_body("gpt-audio", 1200, 700, usage=details)
    u = extract_usage(openai_types.chat.ChatCompletion.model_validate(body))
    assert u is not None and (u.input_audio_tokens, u.output_audio_tokens) == (1000, 600)
    expected = calc(
        "gpt-audio", "openai", input_tokens=1200, output_tokens=700, input_audio_tokens=1000, output_audio_tokens=600
    )
    assert expected > calc("gpt-audio", "openai", input_tokens=1200, output_tokens=700)
    assert cost(u) == pytest.approx(expected, rel=1e-12)


def test_gemini_audio_input_is_priced_at_the_audio_rate() -> None:
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": 2000,
            "candidatesTokenCount": 300,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 1400}, {"modality": "TEXT", "tokenCount": 600}],
        },
        "modelVersion": "gemini-2.5-flash",
    }
    u = extract_usage(genai_types.GenerateContentResponse.model_validate(body))
    assert u is not None and u.input_audio_tokens == 1400
    expected = calc("gemini-2.5-flash", "google", input_tokens=2000, output_tokens=300, input_audio_tokens=1400)
    assert expected > calc("gemini-2.5-flash", "google", input_tokens=2000, output_tokens=300)
    assert cost(u) == pytest.approx(expected, rel=1e-12)


def test_openinference_audio_counts_are_read() -> None:
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": "gpt-audio",
        "llm.token_count.prompt": 1200,
        "llm.token_count.completion": 700,
        "llm.token_count.prompt_details.audio": 1000,
        "llm.token_count.completion_details.audio": 600,
    }
    expected = calc(
        "gpt-audio", "openai", input_tokens=1200, output_tokens=700, input_audio_tokens=1000, output_audio_tokens=600
    )
    assert cost(extract_usage_from_attributes(attrs)) == pytest.approx(expected, rel=1e-12)


# -- item 17: priced request kinds ------------------------------------------------------------------


def test_anthropic_web_searches_are_charged() -> None:
    tools = {"web_search_requests": 3, "web_fetch_requests": 0}
    body = {**ANTHROPIC_BODY, "usage": {**ANTHROPIC_BODY["usage"], "server_tool_use": tools}}
    u = extract_usage(anthropic_types.Message.model_validate(body))
    assert u is not None and u.web_searches == 3
    expected = calc("claude-sonnet-4-5", "anthropic", web_searches=3, **ANTHROPIC_FACTS)
    assert expected == pytest.approx(calc("claude-sonnet-4-5", "anthropic", **ANTHROPIC_FACTS) + 0.03, rel=1e-12)
    assert cost(u) == pytest.approx(expected, rel=1e-12)


def test_openai_responses_tool_calls_are_charged() -> None:
    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-5",
        "status": "completed",
        "output": [
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "q"},
            },
            {
                "type": "web_search_call",
                "id": "ws_2",
                "status": "completed",
                "action": {"type": "search", "query": "r"},
            },
            {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["q"]},
            {
                "type": "message",
                "id": "m1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "x", "annotations": []}],
            },
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 1000,
            "output_tokens": 100,
            "total_tokens": 1100,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
    u = extract_usage(openai_types.responses.Response.model_validate(body))
    assert u is not None and (u.web_searches, u.storage_searches) == (2, 1)
    expected = calc("gpt-5", "openai", input_tokens=1000, output_tokens=100, web_searches=2, storage_searches=1)
    assert cost(u) == pytest.approx(expected, rel=1e-12)


# -- item 9: LangChain counts held only in response_metadata ----------------------------------------


def test_langchain_openai_token_usage() -> None:
    msg = lc_messages.AIMessage(
        content="x",
        response_metadata={
            "model_name": "gpt-4o-mini-2024-07-18",
            "model_provider": "openai",
            "finish_reason": "stop",
            "token_usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "total_tokens": 1200,
                "prompt_tokens_details": {"cached_tokens": 400},
            },
        },
    )
    u = extract_usage(msg)
    assert u is not None and (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (600, 400, 200)
    expected = calc("gpt-4o-mini", "openai", input_tokens=1000, cache_read_tokens=400, output_tokens=200)
    assert cost(u) == pytest.approx(expected, rel=1e-12)


def test_langchain_anthropic_usage() -> None:
    msg = lc_messages.AIMessage(
        content="x",
        response_metadata={
            "model_name": "claude-sonnet-4-5-20250929",
            "model_provider": "anthropic",
            "stop_reason": "end_turn",
            "usage": ANTHROPIC_BODY["usage"],
        },
    )
    u = extract_usage(msg)
    assert u is not None and u.provider == "anthropic" and u.cache_write_1h_tokens == 2000
    assert cost(u) == pytest.approx(calc("claude-sonnet-4-5", "anthropic", **ANTHROPIC_FACTS), rel=1e-12)


def test_langchain_google_usage_metadata_in_response_metadata() -> None:
    msg = {
        "type": "ai",
        "content": "x",
        "response_metadata": {
            "model_name": "gemini-2.5-flash",
            "finish_reason": "STOP",
            "usage_metadata": {
                "prompt_token_count": 900,
                "candidates_token_count": 120,
                "cached_content_token_count": 100,
                "thoughts_token_count": 30,
            },
        },
    }
    u = extract_usage(msg)
    assert u is not None and (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (800, 100, 150)
    expected = calc(
        "gemini-2.5-flash",
        "google",
        input_tokens=900,
        cache_read_tokens=100,
        output_tokens=150,
        output_reasoning_tokens=30,
    )
    assert cost(u) == pytest.approx(expected, rel=1e-12)


def test_langchain_usage_metadata_still_wins() -> None:
    msg = lc_messages.AIMessage(
        content="x",
        usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        response_metadata={
            "model_name": "gpt-4o-mini",
            "token_usage": {"prompt_tokens": 999, "completion_tokens": 999, "total_tokens": 1998},
        },
    )
    u = extract_usage(msg)
    assert u is not None and (u.input_tokens, u.output_tokens) == (10, 5)


# -- item 16: the span's own date, on the OTLP path --------------------------------------------------


def otlp_spans(attrs: dict[str, Any], start: datetime) -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ns = int(start.timestamp() * 1e9)
    span = provider.get_tracer("app").start_span("chat o3", attributes=attrs, start_time=ns)
    span.end(end_time=ns + 2_000_000_000)
    return otlp.parse(encode_spans(exporter.get_finished_spans()).SerializeToString(), "application/x-protobuf")


def test_otlp_spans_are_priced_at_their_own_date() -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "o3",
        "gen_ai.usage.input_tokens": 2000,
        "gen_ai.usage.output_tokens": 4000,
    }
    when = datetime(2025, 5, 1, 12, tzinfo=UTC)
    (t,) = otlp.decode(otlp_spans(attrs, when), project=None, pricer=Pricer()).traces
    then = calc("o3", "openai", at=when, input_tokens=2000, output_tokens=4000)
    assert then != calc("o3", "openai", input_tokens=2000, output_tokens=4000)  # o3's price fell in June 2025
    assert t.spans[0].cost_usd == pytest.approx(then, rel=1e-12)


def test_otlp_openllmetry_service_tier_is_priced() -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.response.model": "o4-mini",
        "gen_ai.usage.prompt_tokens": 1808,
        "gen_ai.usage.completion_tokens": 1400,
        "openai.response.service_tier": "flex",
    }
    now = datetime.now(UTC)
    (t,) = otlp.decode(otlp_spans(attrs, now), project=None, pricer=Pricer()).traces
    expected = calc(
        "o4-mini", "openai", context={"service_tier": "flex"}, at=now, input_tokens=1808, output_tokens=1400
    )
    assert t.spans[0].cost_usd == pytest.approx(expected, rel=1e-12)


def test_glassbox_export_keeps_every_priced_fact() -> None:
    """What glassbox writes on a span (to_attributes) reads back to the same price."""
    tools = {"web_search_requests": 2, "web_fetch_requests": 0}
    body = {**ANTHROPIC_BODY, "usage": {**ANTHROPIC_BODY["usage"], "service_tier": "batch", "server_tool_use": tools}}
    u = extract_usage(anthropic_types.Message.model_validate(body))
    back = extract_usage_from_attributes(u.to_attributes())
    assert cost(back) == pytest.approx(cost(u), rel=1e-12)
    assert (back.web_searches, back.service_tier, back.cache_write_5m_tokens) == (2, "batch", 1000)


# -- issue 19 item 3: the price table loads off the app's path ----------------------------------------


def test_configure_loads_the_price_table_in_the_background() -> None:
    import threading

    from glassbox.testing import capture

    with capture() as got:
        for t in threading.enumerate():
            if t.name == "glassbox-prices":
                t.join(timeout=60)
        pricer = got._rt.costs._pricer
        assert pricer is not None and pricer._gp is not None and pricer._models  # loaded, lookups cached


# -- every figure together, across models and tiers: the compiled plan equals genai-prices -------------

_MODELS = [
    ("openai", "gpt-5"),
    ("openai", "o4-mini"),
    ("openai", "gpt-audio"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("gcp.gen_ai", "gemini-2.5-flash"),
    ("gcp.gen_ai", "gemini-2.5-pro"),
    ("x_ai", "grok-4"),
]
_TIERS = [None, "flex", "priority", "batch", "default", "standard"]


@st.composite
def rich_usages(draw: st.DrawFn) -> LLMUsage:
    n = st.integers(0, 400_000)
    provider, model = draw(st.sampled_from(_MODELS))
    inp, out, read, write = draw(n), draw(n), draw(n), draw(n)
    one_hour = draw(st.integers(0, write))
    cached_audio = draw(st.integers(0, read))
    audio_in = cached_audio + draw(st.integers(0, inp))  # audio may be cached, or plain input
    reasoning = draw(st.integers(0, out))
    return LLMUsage(
        provider=provider,
        response_model=model,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=one_hour,
        cache_write_5m_tokens=draw(st.integers(0, write - one_hour)),
        reasoning_tokens=reasoning,
        input_audio_tokens=audio_in,
        output_audio_tokens=draw(st.integers(0, out - reasoning)),
        cache_audio_read_tokens=cached_audio,
        web_searches=draw(st.integers(0, 20)),
        storage_searches=draw(st.integers(0, 20)),
        code_executions=draw(st.integers(0, 5)),
        service_tier=draw(st.sampled_from(_TIERS)),
    )


_CONTEXT = {
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
    "batch": {"processing": "batch"},
}


@settings(max_examples=300, deadline=None)
@given(rich_usages())
def test_every_figure_is_priced_as_genai_prices_prices_it(u: LLMUsage) -> None:
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    r = Pricer().price(u, at=at)
    if r.source == "unknown":
        assert r.cost_usd is None
        return
    provider = r.model_ref.split(":", 1)[0]  # type: ignore[union-attr]
    usage = gp.Usage(
        input_tokens=u.total_input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cache_write_1h_tokens=u.cache_write_1h_tokens,
        cache_write_5m_tokens=u.cache_write_5m_tokens,
        output_reasoning_tokens=u.reasoning_tokens,
        input_audio_tokens=u.input_audio_tokens,
        output_audio_tokens=u.output_audio_tokens,
        cache_audio_read_tokens=u.cache_audio_read_tokens,
        web_searches=u.web_searches,
        storage_searches=u.storage_searches,
        code_executions=u.code_executions,
    )
    calc = gp.calc_price(
        usage,
        u.response_model,
        provider_id=provider,
        genai_request_timestamp=at,
        price_context=_CONTEXT.get(u.service_tier or ""),
    )
    assert r.cost_usd == float(calc.total_price)
