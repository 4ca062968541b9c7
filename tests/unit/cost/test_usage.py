"""Usage extraction from real provider SDK objects, their dict forms, streams, and span attributes."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassbox.cost.tokens import CHARS_PER_TOKEN, estimate_tokens, estimate_usage
from glassbox.cost.usage import NO_USAGE, LLMUsage, extract_usage, extract_usage_from_attributes

openai_types = importlib.import_module("openai.types")
anthropic_types = importlib.import_module("anthropic.types")
genai_types = importlib.import_module("google.genai.types")
lc_messages = importlib.import_module("langchain_core.messages")


# ----------------------------------------------------------------------------------------------
# Response bodies, as the providers' APIs send them.


def chat_body(
    *, prompt: int = 1000, cached: int = 800, completion: int = 50, reasoning: int = 10, **extra: Any
) -> dict[str, Any]:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        **extra,
    }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": usage,
    }


def chat_chunks(*, with_usage: bool = True) -> list[dict[str, Any]]:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024-07-18"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    ]
    if with_usage:
        usage = {
            "prompt_tokens": 1000,
            "completion_tokens": 20,
            "total_tokens": 1020,
            "prompt_tokens_details": {"cached_tokens": 800},
        }
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def responses_body(*, status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-5-mini-2025-08-07",
        "status": status,
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 1000,
            "input_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 0},
            "output_tokens": 300,
            "output_tokens_details": {"reasoning_tokens": 200},
            "total_tokens": 1300,
        },
    }


ANTHROPIC_MODEL = "claude-sonnet-4-6"


def anthropic_body() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 42,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 5000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 500},
        },
    }


def anthropic_events() -> list[dict[str, Any]]:
    start = anthropic_body()
    start.update(content=[], stop_reason=None)
    start["usage"] = {**start["usage"], "output_tokens": 1}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 42},
        },
        {"type": "message_stop"},
    ]


def gemini_body(**usage: Any) -> dict[str, Any]:
    meta = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 800,
        "candidatesTokenCount": 50,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 1080,
        **usage,
    }
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
        "usageMetadata": meta,
        "modelVersion": "gemini-2.5-flash",
    }


def counts(u: LLMUsage) -> tuple[Any, ...]:
    return (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.output_tokens, u.reasoning_tokens)


# ----------------------------------------------------------------------------------------------
# OpenAI


def test_openai_chat_completion_subtracts_cached_from_prompt() -> None:
    resp = openai_types.chat.ChatCompletion.model_validate(chat_body())
    u = extract_usage(resp, model="gpt-4o-mini")
    assert u is not None
    assert counts(u) == (200, 800, None, 50, 10)
    assert u.total_input_tokens == 1000
    assert (u.provider, u.operation, u.source_kind) == ("openai", "chat", "openai.chat")
    assert (u.request_model, u.response_model, u.model) == (
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-2024-07-18",
    )
    assert u.finish_reasons == ["stop"]
    assert u.problems == []


def test_openai_dict_forms_read_the_same_as_objects() -> None:
    resp = openai_types.chat.ChatCompletion.model_validate(chat_body())
    from_obj = extract_usage(resp)
    assert from_obj is not None
    assert extract_usage(resp.model_dump()) == from_obj
    assert extract_usage(json.loads(resp.model_dump_json())) == from_obj
    bare = extract_usage(resp.usage)  # the usage object alone: counts, no model
    assert bare is not None and counts(bare) == counts(from_obj)


def test_openai_client_chat_through_mock_transport(openai_client: Any) -> None:
    seen: list[str] = []

    def handler(request: Any) -> Any:
        seen.append(request.url.path)
        import httpx2

        return httpx2.Response(200, json=chat_body(prompt=1000, cached=800))

    client = openai_client(handler)
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert type(resp).__module__.startswith("openai.")
    u = extract_usage(resp, model="gpt-4o-mini")
    assert seen == ["/v1/chat/completions"]
    assert u is not None and counts(u) == (200, 800, None, 50, 10)


def test_openai_client_stream_with_include_usage(openai_client: Any, sse_response: Any) -> None:
    client = openai_client(lambda request: sse_response(chat_chunks()))
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert type(chunks[0]).__name__ == "ChatCompletionChunk"
    u = extract_usage(chunks, model="gpt-4o-mini")
    assert u is not None
    assert counts(u) == (200, 800, None, 20, None)
    assert u.response_model == "gpt-4o-mini-2024-07-18"
    assert u.finish_reasons == ["stop"]
    assert u.source_kind == "openai.chat.stream"
    assert u.problems == []
    final = extract_usage(chunks[-1])  # the final chunk alone carries the same counts
    assert final is not None and counts(final) == counts(u)


def test_openai_stream_without_usage_reports_the_problem(openai_client: Any, sse_response: Any) -> None:
    client = openai_client(lambda request: sse_response(chat_chunks(with_usage=False)))
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True))
    u = extract_usage(chunks, model="gpt-4o-mini")
    assert u is not None
    assert not u.has_counts
    assert u.problems == [NO_USAGE]
    assert u.response_model == "gpt-4o-mini-2024-07-18"
    assert u.finish_reasons == ["stop"]


def test_openai_responses_api_object_client_and_stream(openai_client: Any, sse_response: Any) -> None:
    resp = openai_types.responses.Response.model_validate(responses_body())
    u = extract_usage(resp)
    assert u is not None
    assert counts(u) == (400, 600, 0, 300, 200)
    assert (u.operation, u.source_kind, u.finish_reasons) == ("chat", "openai.responses", ["completed"])

    client = openai_client(lambda request: __import__("httpx2").Response(200, json=responses_body()))
    from_client = extract_usage(client.responses.create(model="gpt-5-mini", input="hi"))
    assert from_client is not None and counts(from_client) == counts(u)

    in_progress = {**responses_body(status="in_progress"), "usage": None, "output": []}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": in_progress},
        {"type": "response.completed", "sequence_number": 1, "response": responses_body()},
    ]
    stream_client = openai_client(lambda request: sse_response(events, named=True))
    streamed = list(stream_client.responses.create(model="gpt-5-mini", input="hi", stream=True))
    assert type(streamed[-1]).__name__ == "ResponseCompletedEvent"
    from_stream = extract_usage(streamed)
    assert from_stream is not None and counts(from_stream) == counts(u)


def test_openai_legacy_completion_and_embeddings() -> None:
    completion = openai_types.Completion.model_validate(
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": "gpt-3.5-turbo-instruct",
            "choices": [{"index": 0, "text": "x", "finish_reason": "length", "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    )
    u = extract_usage(completion)
    assert u is not None
    assert (u.operation, u.input_tokens, u.output_tokens, u.finish_reasons) == ("text_completion", 10, 5, ["length"])

    emb = openai_types.CreateEmbeddingResponse.model_validate(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        }
    )
    for form in (emb, emb.model_dump()):
        e = extract_usage(form)
        assert e is not None
        assert (e.operation, e.input_tokens, e.output_tokens, e.response_model) == (
            "embeddings",
            8,
            None,
            "text-embedding-3-small",
        )
        assert e.problems == []


def test_openrouter_style_reported_cost() -> None:
    resp = openai_types.chat.ChatCompletion.model_validate(chat_body(cost=0.00123))
    u = extract_usage(resp)
    assert u is not None and u.provider_cost_usd == pytest.approx(0.00123)


# ----------------------------------------------------------------------------------------------
# Anthropic


def test_anthropic_message_input_excludes_cache() -> None:
    msg = anthropic_types.Message.model_validate(anthropic_body())
    u = extract_usage(msg)
    assert u is not None
    assert counts(u) == (100, 5000, 2000, 42, None)
    assert u.cache_write_1h_tokens == 500
    assert u.total_input_tokens == 7100
    assert (u.provider, u.operation, u.response_model, u.finish_reasons) == (
        "anthropic",
        "chat",
        ANTHROPIC_MODEL,
        ["end_turn"],
    )
    assert extract_usage(msg.model_dump()) == u
    bare = extract_usage(msg.usage)
    assert bare is not None and counts(bare) == counts(u)


def test_anthropic_thinking_tokens_are_reasoning() -> None:
    body = anthropic_body()
    body["usage"]["output_tokens_details"] = {"thinking_tokens": 30}
    u = extract_usage(anthropic_types.Message.model_validate(body))
    assert u is not None and (u.output_tokens, u.reasoning_tokens) == (42, 30)


def test_anthropic_client_plain_stream_and_raw_events(anthropic_client: Any, sse_response: Any) -> None:
    import httpx2

    def handler(request: Any) -> Any:
        if json.loads(request.content).get("stream"):
            return sse_response(anthropic_events(), named=True)
        return httpx2.Response(200, json=anthropic_body())

    client = anthropic_client(handler)
    kwargs: dict[str, Any] = {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    expected = (100, 5000, 2000, 42, None)

    plain = extract_usage(client.messages.create(**kwargs))
    assert plain is not None and counts(plain) == expected

    with client.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    from_final = extract_usage(final)
    assert from_final is not None and counts(from_final) == expected
    assert from_final.cache_write_1h_tokens == 500

    events = list(client.messages.create(**kwargs, stream=True))
    assert type(events[0]).__name__ == "RawMessageStartEvent"
    from_events = extract_usage(events)
    assert from_events is not None
    assert counts(from_events) == expected
    assert (from_events.response_model, from_events.finish_reasons) == (ANTHROPIC_MODEL, ["end_turn"])
    assert from_events.source_kind == "anthropic.stream"
    assert extract_usage([e.model_dump() for e in events]) == from_events


# ----------------------------------------------------------------------------------------------
# Google google-genai


def test_gemini_prompt_includes_cache_and_thoughts_are_output() -> None:
    resp = genai_types.GenerateContentResponse.model_validate(gemini_body())
    u = extract_usage(resp)
    assert u is not None
    assert counts(u) == (200, 800, None, 80, 30)
    assert (u.provider, u.operation, u.response_model, u.finish_reasons) == (
        "gcp.gen_ai",
        "generate_content",
        "gemini-2.5-flash",
        ["STOP"],
    )
    assert extract_usage(resp.model_dump()) == u  # snake_case dict
    assert extract_usage(resp.model_dump(mode="json", by_alias=True)) == u  # camelCase, as the REST API sends
    assert extract_usage(resp.usage_metadata) is not None


def test_gemini_tool_use_prompt_tokens_are_input() -> None:
    resp = genai_types.GenerateContentResponse.model_validate(gemini_body(toolUsePromptTokenCount=100))
    u = extract_usage(resp)
    assert u is not None and (u.input_tokens, u.total_input_tokens) == (300, 1100)


def test_gemini_stream_takes_the_last_usage() -> None:
    first = gemini_body(promptTokenCount=1000, candidatesTokenCount=5, thoughtsTokenCount=0)
    first["candidates"][0].pop("finishReason")
    chunks = [genai_types.GenerateContentResponse.model_validate(c) for c in (first, gemini_body())]
    u = extract_usage(chunks)
    assert u is not None
    assert counts(u) == (200, 800, None, 80, 30)
    assert (u.finish_reasons, u.source_kind) == (["STOP"], "google.genai.stream")


# ----------------------------------------------------------------------------------------------
# LangChain


def test_langchain_ai_message_input_includes_cache() -> None:
    msg = lc_messages.AIMessage(
        content="hi",
        usage_metadata={
            "input_tokens": 1000,
            "output_tokens": 50,
            "total_tokens": 1050,
            "input_token_details": {"cache_read": 600, "cache_creation": 100},
            "output_token_details": {"reasoning": 20},
        },
        response_metadata={"model_name": "gpt-4o-2024-08-06", "finish_reason": "stop", "model_provider": "openai"},
    )
    u = extract_usage(msg)
    assert u is not None
    assert counts(u) == (300, 600, 100, 50, 20)
    assert (u.provider, u.response_model, u.finish_reasons, u.source_kind) == (
        "openai",
        "gpt-4o-2024-08-06",
        ["stop"],
        "langchain",
    )
    assert extract_usage(msg.model_dump()) == u


def test_langchain_chunks_are_summed() -> None:
    chunks = [
        lc_messages.AIMessageChunk(
            content="a",
            usage_metadata={
                "input_tokens": 900,
                "output_tokens": 0,
                "total_tokens": 900,
                "input_token_details": {"cache_read": 500},
            },
        ),
        lc_messages.AIMessageChunk(
            content="b",
            usage_metadata={"input_tokens": 0, "output_tokens": 40, "total_tokens": 40},
            response_metadata={
                "model_name": "claude-haiku-4-5",
                "stop_reason": "end_turn",
                "model_provider": "anthropic",
            },
        ),
    ]
    u = extract_usage(chunks)
    assert u is not None
    assert counts(u) == (400, 500, None, 40, None)
    assert (u.provider, u.response_model, u.finish_reasons) == ("anthropic", "claude-haiku-4-5", ["end_turn"])
    added = chunks[0] + chunks[1]  # LangChain's own chunk addition agrees
    assert counts(extract_usage(added)) == counts(u)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# OpenTelemetry span attributes


def test_attributes_current_gen_ai() -> None:
    u = extract_usage_from_attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4.1",
            "gen_ai.response.model": "gpt-4.1-2025-04-14",
            "gen_ai.usage.input_tokens": 811,
            "gen_ai.usage.output_tokens": "92",
            "gen_ai.usage.cache_read.input_tokens": 640,
            "gen_ai.usage.cache_creation.input_tokens": 11,
            "gen_ai.usage.reasoning.output_tokens": 12,
            "gen_ai.response.finish_reasons": ("stop",),
        }
    )
    assert u is not None
    assert counts(u) == (160, 640, 11, 92, 12)
    assert (u.provider, u.operation, u.request_model, u.response_model, u.finish_reasons, u.source_kind) == (
        "openai",
        "chat",
        "gpt-4.1",
        "gpt-4.1-2025-04-14",
        ["stop"],
        "otel",
    )
    assert extract_usage(dict(u.to_attributes())) == u  # round trip through our own attributes


def test_attributes_legacy_openllmetry() -> None:
    u = extract_usage_from_attributes(
        {
            "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-haiku-4-5",
            "gen_ai.usage.prompt_tokens": 1200,
            "gen_ai.usage.completion_tokens": 30,
            "gen_ai.usage.cache_read_input_tokens": 1000,
            "gen_ai.usage.cache_creation_input_tokens": 100,
        }
    )
    assert u is not None and counts(u) == (100, 1000, 100, 30, None) and u.provider == "Anthropic"


def test_attributes_openinference() -> None:
    u = extract_usage_from_attributes(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 500,
            "llm.token_count.completion": 20,
            "llm.token_count.prompt_details.cache_read": 300,
            "llm.token_count.completion_details.reasoning": 5,
            "llm.cost.total": 0.0001,
        }
    )
    assert u is not None
    assert counts(u) == (200, 300, None, 20, 5)
    assert (u.operation, u.response_model, u.source_kind, u.provider_cost_usd) == (
        "chat",
        "gpt-4o-mini",
        "openinference",
        0.0001,
    )


def test_attributes_with_exclusive_input_are_detected() -> None:
    # An emitter that copied Anthropic's input_tokens (cache excluded) as the total.
    u = extract_usage_from_attributes(
        {
            "gen_ai.request.model": "claude-haiku-4-5",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.cache_read.input_tokens": 5000,
            "gen_ai.usage.output_tokens": 3,
        }
    )
    assert u is not None
    assert (u.input_tokens, u.cache_read_tokens) == (10, 5000)
    assert any("excluding the cache" in p for p in u.problems)


def test_attributes_without_llm_data_give_none() -> None:
    assert extract_usage_from_attributes({"http.method": "GET"}) is None
    assert extract_usage_from_attributes({}) is None
    u = extract_usage_from_attributes({"gen_ai.request.model": "gpt-4o"})
    assert u is not None and u.problems == [NO_USAGE]


def test_to_attributes_uses_semconv_names_and_total_input() -> None:
    u = LLMUsage(
        provider="anthropic",
        request_model="claude-haiku-4-5",
        response_model="claude-haiku-4-5-20251001",
        input_tokens=100,
        cache_read_tokens=5000,
        cache_write_tokens=2000,
        output_tokens=42,
        reasoning_tokens=7,
        finish_reasons=["end_turn"],
        operation="chat",
    )
    assert u.to_attributes() == {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.response.model": "claude-haiku-4-5-20251001",
        "gen_ai.usage.input_tokens": 7100,
        "gen_ai.usage.output_tokens": 42,
        "gen_ai.usage.cache_read.input_tokens": 5000,
        "gen_ai.usage.cache_creation.input_tokens": 2000,
        "gen_ai.usage.reasoning.output_tokens": 7,
        "gen_ai.response.finish_reasons": ["end_turn"],
    }
    assert LLMUsage().to_attributes() == {}


def test_to_dict_round_trip() -> None:
    u = extract_usage(anthropic_types.Message.model_validate(anthropic_body()))
    assert u is not None
    d = json.loads(json.dumps(u.to_dict()))
    assert LLMUsage.from_dict(d) == u


# ----------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("obj", [None, object(), 42, 1.5, "text", b"bytes", {}, [], [None], {"foo": 1}, {"usage": {}}])
def test_unknown_objects_give_none(obj: Any) -> None:
    assert extract_usage(obj) is None


def test_missing_usage_is_reported_not_zero() -> None:
    body = chat_body()
    body["usage"] = None
    u = extract_usage(openai_types.chat.ChatCompletion.model_validate(body))
    assert u is not None
    assert counts(u) == (None, None, None, None, None)
    assert u.total_input_tokens is None
    assert u.problems == [NO_USAGE]
    assert u.response_model == "gpt-4o-mini-2024-07-18"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (-5, "negative"),
        (10**9 + 1, "implausibly large"),
        (1.5, "not a whole number"),
        ("many", "not a whole number"),
        (True, "not a token count"),
        (float("nan"), "not a whole number"),
    ],
)
def test_invalid_counts_are_dropped_with_a_problem(value: Any, fragment: str) -> None:
    body = chat_body()
    body["usage"]["completion_tokens"] = value
    u = extract_usage(body)
    assert u is not None
    assert u.output_tokens is None
    assert u.input_tokens == 200  # the valid counts survive
    assert any(fragment in p and "completion_tokens" in p for p in u.problems)


def test_cached_exceeding_prompt_is_flagged() -> None:
    u = extract_usage(chat_body(prompt=100, cached=800))
    assert u is not None
    assert (u.input_tokens, u.cache_read_tokens) == (100, 800)
    assert any("exceed prompt_tokens" in p for p in u.problems)


def test_reasoning_exceeding_output_is_dropped() -> None:
    u = extract_usage(chat_body(completion=5, reasoning=50))
    assert u is not None and u.reasoning_tokens is None and u.output_tokens == 5
    assert any("reasoning_tokens" in p for p in u.problems)


def test_a_raising_object_never_breaks_extraction() -> None:
    class Hostile:
        __module__ = "openai.types.fake"

        @property
        def usage(self) -> Any:
            raise RuntimeError("boom")

        @property
        def model(self) -> Any:
            raise RuntimeError("boom")

    u = extract_usage(Hostile())
    assert u is not None and u.problems == [NO_USAGE]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "usage",
        "prompt_tokens",
        "completion_tokens",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "model",
        "object",
        "type",
        "choices",
        "usage_metadata",
        "usageMetadata",
        "promptTokenCount",
        "cache_read_input_tokens",
        "prompt_tokens_details",
        "message",
        "response",
        "gen_ai.usage.input_tokens",
        "llm.token_count.prompt",
        "response_metadata",
        "candidates",
        "data",
    ]
)
_shaped = st.recursive(
    _json, lambda children: st.dictionaries(_keys, children, max_size=6) | st.lists(children, max_size=4), max_leaves=30
)


@settings(max_examples=400, deadline=None)
@given(_shaped)
def test_extraction_never_raises_and_counts_are_sane(obj: Any) -> None:
    u = extract_usage(obj)
    if u is None:
        return
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        v = getattr(u, name)
        assert v is None or (type(v) is int and 0 <= v <= 3 * 10**9)
    assert isinstance(u.problems, list) and isinstance(u.finish_reasons, list)
    assert all(isinstance(r, str) for r in u.finish_reasons)
    if not u.has_counts:
        assert NO_USAGE in u.problems


# ----------------------------------------------------------------------------------------------
# Estimates and import cost


def test_estimates_follow_the_documented_heuristic() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a" * 400) == int(400 / CHARS_PER_TOKEN)
    assert estimate_tokens("abcde") == 2  # rounded up
    messages = [
        {"role": "system", "content": "a" * 40},
        {"role": "user", "content": [{"type": "text", "text": "b" * 8}]},
    ]
    assert estimate_tokens(messages) == 10 + 2 + 2 * 4
    base = extract_usage(chat_body() | {"usage": None})
    assert base is not None
    u = estimate_usage("gpt-4o-mini", messages, "c" * 20, base=base)
    assert u is base
    assert (u.input_tokens, u.output_tokens, u.estimated) == (20, 5, True)
    assert u.response_model == "gpt-4o-mini-2024-07-18" and u.source_kind == "openai.chat+estimate"
    fresh = estimate_usage("my-model", "hello world", None, provider="openai")
    assert (fresh.input_tokens, fresh.output_tokens) == (3, 0)
    assert (fresh.request_model, fresh.source_kind) == ("my-model", "estimate")


def test_estimate_fills_only_missing_counts() -> None:
    partial = LLMUsage(provider="openai", response_model="gpt-4o-mini", input_tokens=500, source_kind="openai.chat")
    u = estimate_usage("gpt-4o-mini", "ignored prompt", "d" * 40, base=partial)
    assert (u.input_tokens, u.output_tokens, u.estimated, u.source_kind) == (500, 10, True, "openai.chat+estimate")
    full = LLMUsage(response_model="m", input_tokens=1, output_tokens=2)
    assert estimate_usage("m", "p", "c", base=full).estimated is False


def test_exact_estimate_falls_back_without_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbox.cost import tokens

    tokens._encoding.cache_clear()
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # as if not installed
    assert estimate_tokens("a" * 40, exact=True) == 10
    tokens._encoding.cache_clear()


def test_importing_cost_pulls_in_no_sdk_or_price_table() -> None:
    code = (
        "import sys, glassbox.cost, glassbox.cost.usage, glassbox.cost.pricing, glassbox.cost.tokens\n"
        "heavy = {'openai', 'anthropic', 'google', 'genai_prices', 'langchain_core', 'tiktoken', 'httpx2'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
