"""One Claude call, three spans, one count.

The real ``anthropic`` client (against an in-process fake of the HTTP API) runs with the app's
OpenTelemetry TracerProvider and OpenInference's Anthropic instrumentor: the SDK emits its own
span per call, the instrumentor a parent span, and the app also calls ``gb.llm(resp)``. glassbox
keeps all three spans but counts the call once (docs/costs.md, "One call, one count").

    python examples/one_count.py
"""

from __future__ import annotations

import httpx2
from anthropic import Anthropic
from openinference.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

import glassbox as gb
from glassbox.store.store import Store

BODY = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Refunds take 30 days."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 3000,
        "output_tokens": 600,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 0},
    },
}


def main() -> None:
    provider = TracerProvider()
    trace.set_tracer_provider(provider)  # the app's provider; glassbox never replaces it
    AnthropicInstrumentor().instrument(tracer_provider=provider)
    http = httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=BODY)))
    client = Anthropic(api_key="sk-example", base_url="http://anthropic.example", http_client=http)

    gb.configure(project="one-count-example")
    with gb.trace("refund policy?") as run, gb.stage("answer", kind="llm"):
        resp = client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=1000,
            messages=[{"role": "user", "content": "How long do refunds take?"}],
        )
        call = gb.llm(resp)
    gb.flush()
    t = Store("sqlite:///.glassbox/glassbox.db").get_trace(run.trace_id)  # the default store
    for s in t.spans:
        if s.attributes and "glassbox.cost.source" in s.attributes:
            role = (
                f"duplicate of {s.attributes['glassbox.cost.duplicate_of']}"
                if "glassbox.cost.duplicate_of" in s.attributes
                else f"carries ${s.cost_usd:.6f}"
            )
            print(f"{s.name:28s} {s.span_id}  {role}")
    print(f"call price ${call.cost_usd:.6f}; run total ${t.cost_usd:.6f} ({t.tokens_in} in / {t.tokens_out} out)")
    assert t.cost_usd == call.cost_usd


if __name__ == "__main__":
    main()
