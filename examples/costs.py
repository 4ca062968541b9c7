"""LLM costs and budgets: the real openai client, priced by glassbox, stopped by a budget.

Needs the ``openai`` package (``pip install openai``). No network: the client talks to an
in-process HTTP transport that answers like the OpenAI API, so only the wire is fake.

    python examples/costs.py
"""

from __future__ import annotations

import httpx2  # the HTTP library the openai SDK uses
import openai

import glassbox as gb


def fake_openai_api(request: httpx2.Request) -> httpx2.Response:
    """Answers every chat completion with 12,000 prompt tokens (half from the prompt cache)."""
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-example",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Done."}}],
            "usage": {
                "prompt_tokens": 12_000,
                "completion_tokens": 800,
                "total_tokens": 12_800,
                "prompt_tokens_details": {"cached_tokens": 6_000},
            },
        },
    )


client = openai.OpenAI(
    api_key="sk-example",
    base_url="https://api.openai.test/v1",
    http_client=httpx2.Client(transport=httpx2.MockTransport(fake_openai_api)),
)

# Warn past 5 cents, stop before the next stage once a run has spent 10 cents.
gb.configure(project="costs-example", budget=gb.Budget(warn_usd=0.05, max_usd=0.10))

try:
    with gb.trace("Draft the quarterly report", workflow="agent") as run:
        for step in range(20):
            with gb.stage(f"step-{step}", kind="llm"):
                resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "go"}])
                call = gb.llm(resp)  # tokens, model, cost and its source land on this stage
                print(
                    f"step {step}: {call.usage.total_input_tokens} in / {call.usage.output_tokens} out, "
                    f"${call.cost_usd:.4f} ({call.cost_source})"
                )
except gb.BudgetExceeded as exc:
    print(f"stopped: {exc}")

gb.flush()
print(f"run {run.trace_id}: status {run.status}, ${run.cost_usd:.4f} ({run.cost_source})")
print(f"see it:  glassbox show {run.trace_id[:12]}")
