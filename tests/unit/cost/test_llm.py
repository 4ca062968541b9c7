"""gb.llm(): real SDK responses through mocked transports land priced on the trace, budgets follow."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import google.genai.types as genai_types
import httpx2
import openai.types as openai_types
import pytest

import glassbox as gb
from glassbox.testing import capture


def chat_body(model: str = "gpt-4o-mini-2024-07-18", prompt: int = 1000, cached: int = 400, out: int = 200) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Refunds: 30d"}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": out,
            "total_tokens": prompt + out,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def anthropic_body() -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Refunds within 30 days."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 50,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 3000,
        },
    }


def llm_spans(trace: gb.Trace) -> list[gb.Span]:
    return [s for s in trace.spans if s.kind == "llm"]


def test_openai_client_call_becomes_a_priced_llm_stage(openai_client: Any, gp_cost: Any) -> None:
    client = openai_client(lambda request: httpx2.Response(200, json=chat_body()))
    with capture() as traces:
        with gb.trace("refunds?") as t:
            resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "q"}])
            call = gb.llm(resp)
    (trace,) = traces.flush()
    (span,) = llm_spans(trace)
    expected = gp_cost("gpt-4o-mini", "openai", total_input=1000, output=200, cache_read=400)
    assert call is not None and call.cost_source == "priced"
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)
    assert span.tokens_in == 1000 and span.tokens_out == 200  # cached tokens counted once, inside the input
    assert span.model == "gpt-4o-mini-2024-07-18"
    assert span.parent_id == t.root_span_id
    attrs = span.attributes
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 400
    assert attrs["glassbox.cost.source"] == "priced"
    assert trace.cost_usd == pytest.approx(expected) and trace.cost_source == "priced"
    assert "gen_ai.prompt" not in attrs  # content capture is off by default


def test_anthropic_cache_tokens_priced_once_each(anthropic_client: Any, gp_cost: Any) -> None:
    client = anthropic_client(lambda request: httpx2.Response(200, json=anthropic_body()))
    with capture() as traces:
        with gb.trace("q"):
            msg = client.messages.create(
                model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "q"}]
            )
            gb.llm(msg)
    (span,) = llm_spans(traces.flush()[0])
    # Anthropic's input_tokens exclude the cache: the total input is the sum of all three.
    assert span.tokens_in == 100 + 2000 + 3000
    expected = gp_cost(
        "claude-sonnet-4-5-20250929", "anthropic", total_input=5100, output=50, cache_read=3000, cache_write=2000
    )
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)


def test_google_genai_response_with_cached_and_thoughts_tokens(gp_cost: Any) -> None:
    resp = genai_types.GenerateContentResponse.model_validate(
        {
            "model_version": "gemini-2.5-flash",
            "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finish_reason": "STOP"}],
            "usage_metadata": {
                "prompt_token_count": 1000,
                "cached_content_token_count": 600,
                "candidates_token_count": 100,
                "thoughts_token_count": 50,
                "total_token_count": 1150,
            },
        }
    )
    with capture() as traces:
        with gb.trace("q"):
            call = gb.llm(resp)
    (span,) = llm_spans(traces.flush()[0])
    assert call is not None and call.usage.reasoning_tokens == 50
    assert span.tokens_in == 1000 and span.tokens_out == 150  # thoughts are billed as output
    expected = gp_cost("gemini-2.5-flash", "google", total_input=1000, output=150, cache_read=600, reasoning=50)
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)


def test_streamed_chunks_with_usage(openai_client: Any, sse_response: Any, gp_cost: Any) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024-07-18"}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}},
    ]
    client = openai_client(lambda request: sse_response(events))
    with capture() as traces:
        with gb.trace("q"):
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[], stream=True, stream_options={"include_usage": True}
            )
            gb.llm(list(stream))
    (span,) = llm_spans(traces.flush()[0])
    assert (span.tokens_in, span.tokens_out) == (30, 5)
    assert span.cost_usd == pytest.approx(gp_cost("gpt-4o-mini", "openai", total_input=30, output=5))


def test_recorded_on_current_llm_stage_or_named_ancestor() -> None:
    resp = openai_types.chat.ChatCompletion.model_validate(chat_body())
    with capture() as traces:
        with gb.trace("q"):
            with gb.stage("synthesis", kind="llm") as synth:
                gb.llm(resp)  # the open LLM stage takes the usage
            with gb.stage("answer") as answer, gb.stage("format"):
                gb.llm(resp, stage="answer")  # an ancestor, by name
            with gb.stage("route"):
                gb.llm(resp, stage="router-call", duration_ms=12.5)  # a new child stage with that name
    trace = traces.flush()[0]
    by_name = {s.name: s for s in trace.spans}
    assert by_name["synthesis"].span_id == synth.span_id and by_name["synthesis"].cost_usd > 0
    assert by_name["answer"].span_id == answer.span_id and by_name["answer"].tokens_in == 1000
    new = by_name["router-call"]
    assert new.kind == "llm" and new.parent_id == by_name["route"].span_id
    assert new.duration_ms == pytest.approx(12.5, abs=0.01)
    assert len(trace.spans) == 6  # trace, synthesis, answer, format, route, router-call


def test_unknown_model_leaves_cost_empty_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    body = chat_body(model="acme-private-7b")
    with capture() as traces, caplog.at_level(logging.WARNING, logger="glassbox"):
        with gb.trace("q"):
            first = gb.llm(body)
            gb.llm(body)
    trace = traces.flush()[0]
    assert first is not None and first.cost_source == "unknown" and first.cost_usd is None
    assert first.message and "acme-private-7b" in first.message
    assert all(s.cost_usd is None for s in llm_spans(trace))
    assert all(s.tokens_in == 1000 for s in llm_spans(trace))  # the counts are still recorded
    assert trace.cost_source == "unknown" and trace.cost_usd is None  # never a silent $0
    assert sum("acme-private-7b" in r.getMessage() for r in caplog.records) == 1


def test_price_override_from_settings_prices_a_private_model(tmp_path: Any) -> None:
    (tmp_path / "glassbox.toml").write_text('[prices."acme-private-7b"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
    with capture() as traces:
        with gb.trace("q"):
            gb.llm(chat_body(model="acme-private-7b", prompt=1_000_000, cached=0, out=500_000))
    (span,) = llm_spans(traces.flush()[0])
    assert span.cost_usd == pytest.approx(2.0)
    assert span.attributes["glassbox.cost.model_ref"] == "override:acme-private-7b"


def test_unreadable_response_is_estimated_from_text_or_left_unknown(caplog: pytest.LogCaptureFixture) -> None:
    class Weird:
        pass

    with capture() as traces, caplog.at_level(logging.WARNING, logger="glassbox"):
        with gb.trace("q"):
            estimated = gb.llm(
                Weird(), prompt="What is the refund policy?" * 4, completion="Thirty days.", model="gpt-4o-mini"
            )
            unknown = gb.llm(Weird())
            bad = gb.llm({"model": "gpt-4o-mini", "usage": {"prompt_tokens": -5, "completion_tokens": "many"}})
    trace = traces.flush()[0]
    assert estimated is not None and estimated.cost_source == "estimated" and estimated.cost_usd > 0
    assert estimated.usage.estimated and estimated.usage.input_tokens > 0
    assert unknown is not None and unknown.cost_source == "unknown"
    assert bad is not None and bad.cost_source == "unknown"
    problems = llm_spans(trace)[2].attributes["glassbox.usage.problems"]
    assert "negative" in problems and "not a whole number" in problems
    assert trace.cost_source == "unknown"
    assert sum("cannot read usage from a" in r.getMessage() for r in caplog.records) == 1


def test_llm_outside_a_trace_or_disabled_does_nothing() -> None:
    assert gb.llm(chat_body()) is None
    gb.configure(enabled=False)
    with gb.trace("q"):
        assert gb.llm(chat_body()) is None


def test_content_capture_is_opt_in_limited_and_redacted() -> None:
    def redact(text: str) -> str:
        return text.replace("4111-1111", "[card]")

    resp = openai_types.chat.ChatCompletion.model_validate(chat_body())
    with capture(capture_content=True, max_content_length=64, redact=redact) as traces:
        with gb.trace("q"):
            gb.llm(resp, prompt=[{"role": "user", "content": "my card 4111-1111 " + "x" * 200}])
    attrs = llm_spans(traces.flush()[0])[0].attributes
    assert "4111-1111" not in attrs["gen_ai.prompt"] and "[card]" in attrs["gen_ai.prompt"]
    assert len(attrs["gen_ai.prompt"]) <= 64 + 40  # truncated, with a marker
    assert attrs["gen_ai.completion"] == "Refunds: 30d"


def test_redaction_hook_by_import_path_and_a_broken_hook_drops_content() -> None:
    with capture(capture_content=True, redact="json:loads") as traces:  # raises on non-JSON text
        with gb.trace("q"):
            gb.llm(chat_body(), prompt="secret text")
    attrs = llm_spans(traces.flush()[0])[0].attributes
    assert attrs["gen_ai.prompt"] == "[redaction failed]"
    with pytest.raises(gb.ConfigError, match="redact"):
        gb.configure(redact="no_such_module_xyz:fn")


def test_budget_from_llm_costs_halts_the_next_stage_and_fails_the_trace(configured: str) -> None:
    body = chat_body(prompt=1_000_000, cached=0, out=0)  # $0.15 at gpt-4o-mini input prices
    gb.configure(project="test", store=configured, trail_dir=None, budget=gb.Budget(warn_usd=0.2, max_usd=0.4))
    reached: list[str] = []
    with pytest.raises(gb.BudgetExceeded) as info:
        with gb.trace("agent loop") as t:
            for step in range(10):
                with gb.stage(f"step-{step}"):
                    reached.append(f"step-{step}")
                    gb.llm(body)
    assert reached == ["step-0", "step-1", "step-2"]  # $0.45 after step 2: step 3 never starts
    assert info.value.scope == "trace" and info.value.limit == 0.4
    gb.flush()
    from glassbox.store.store import Store

    stored = Store(configured).get_trace(t.trace_id)
    assert stored.status == "failed" and stored.error["reason"] == "budget"
    assert stored.cost_usd == pytest.approx(0.45)
    assert [e.name for e in stored.events if e.name.startswith("budget.")] == ["budget.warned", "budget.exceeded"]
    assert stored.cost_source == "priced"


_INSTRUMENTED_APP = """
import json, sys
import httpx2, openai
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
import glassbox as gb
from glassbox.testing import capture

if sys.argv[1] == "openllmetry":
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
else:
    from openinference.instrumentation.openai import OpenAIInstrumentor
provider = TracerProvider()
otel_trace.set_tracer_provider(provider)  # the app's own provider; glassbox never replaces it
OpenAIInstrumentor().instrument(tracer_provider=provider)
body = json.loads(sys.argv[2])
http = httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=body)))
client = openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1", http_client=http, max_retries=0)
with capture() as traces:
    with gb.trace("q"), gb.stage("synthesis"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "q"}])
print(json.dumps(traces.flush()[0].to_dict()))
"""


# Instrumentors patch the openai package process-wide (and not all of them undo it), so each
# runs in its own interpreter, as in an app.
@pytest.mark.parametrize("instrumentor", ["openllmetry", "openinference"])
def test_instrumentor_spans_are_folded_in_and_priced(instrumentor: str, gp_cost: Any) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _INSTRUMENTED_APP, instrumentor, json.dumps(chat_body())],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    trace = gb.Trace.from_dict(json.loads(out.strip().splitlines()[-1]))
    (span,) = llm_spans(trace)
    synthesis = next(s for s in trace.spans if s.name == "synthesis")
    assert span.parent_id == synthesis.span_id  # the instrumentor's span nests under the glassbox stage
    expected = gp_cost("gpt-4o-mini", "openai", total_input=1000, output=200, cache_read=400)
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)
    assert span.attributes["glassbox.cost.source"] == "priced"
    assert trace.cost_usd == pytest.approx(expected) and trace.cost_source == "priced"


def test_llm_never_raises_into_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbox.cost import calls

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("pricing table corrupted")

    monkeypatch.setattr(calls, "read_usage", boom)
    with capture():
        with gb.trace("q"):
            assert gb.llm(chat_body()) is None
        assert gb.health()["internal_errors"] >= 1
    assert json.dumps(gb.health())  # health stays serialisable


def test_prices_file_is_checked_at_configure(tmp_path: Any) -> None:
    good = tmp_path / "prices.toml"
    good.write_text('[prices."acme-7b"]\ninput_per_mtok = 2.0\noutput_per_mtok = 4.0\n')
    with capture(prices_file=str(good)) as traces:
        with gb.trace("q"):
            gb.llm(chat_body(model="acme-7b", prompt=500_000, cached=0, out=250_000))
    assert llm_spans(traces.flush()[0])[0].cost_usd == pytest.approx(2.0)
    bad = tmp_path / "broken.toml"
    bad.write_text("[prices\n")
    for path in (bad, tmp_path / "missing.toml"):
        with pytest.raises(gb.ConfigError, match="cannot read price overrides"):
            gb.configure(prices_file=str(path))


def test_the_first_call_after_configure_does_not_wait_for_the_price_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, gp_cost: Any
) -> None:
    """The table loads in the background at configure; a call made meanwhile gets its tokens at once
    and its exact price before the trace is stored."""
    import threading

    from glassbox.cost import calls
    from glassbox.cost.pricing import Pricer

    release, loaded = threading.Event(), threading.Event()
    real_warm = Pricer.warm

    def slow_warm(self: Pricer) -> None:  # a table that takes as long as the test wants
        release.wait(30)
        real_warm(self)
        loaded.set()

    monkeypatch.setattr(Pricer, "warm", slow_warm)
    monkeypatch.setattr(calls, "_TABLE_LOADED", threading.Event())  # as in a fresh process: no table yet
    gb.configure(store=f"sqlite:///{tmp_path}/first.db", trail_dir=None)
    resp = openai_types.chat.ChatCompletion.model_validate(chat_body())
    try:
        with gb.trace("refunds?") as t:
            call = gb.llm(resp)
            assert not loaded.is_set()  # gb.llm() returned while the table was still loading
            assert call is not None and (call.stage.tokens_in, call.stage.tokens_out) == (1000, 200)
    finally:
        release.set()
    assert gb.flush(10)
    expected = gp_cost("gpt-4o-mini", "openai", total_input=1000, output=200, cache_read=400)
    stored = gb.query().trace(t.trace_id)
    (span,) = llm_spans(stored)
    assert span.cost_usd == pytest.approx(expected, rel=1e-12) and span.attributes["glassbox.cost.source"] == "priced"
    assert stored.cost_usd == pytest.approx(expected, rel=1e-12) and stored.cost_source == "priced"
    assert call.cost_usd == pytest.approx(expected, rel=1e-12) and call.cost_source == "priced"
