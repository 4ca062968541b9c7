"""Real provider SDK clients driven through httpx2.MockTransport, and genai-prices as the oracle."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

Handler = Callable[[Any], Any]


def _sse(events: list[dict[str, Any]], *, named: bool) -> bytes:
    parts = []
    for ev in events:
        head = f"event: {ev['type']}\n" if named else ""
        parts.append(f"{head}data: {json.dumps(ev)}\n\n")
    if not named:
        parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


@pytest.fixture
def sse_response() -> Callable[..., Any]:
    """An HTTP 200 text/event-stream response; ``named`` adds ``event:`` lines (Anthropic, Responses)."""

    httpx2 = importlib.import_module("httpx2")  # the HTTP library the openai and anthropic SDKs use

    def make(events: list[dict[str, Any]], *, named: bool = False) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_sse(events, named=named))

    return make


@pytest.fixture
def openai_client() -> Callable[[Handler], Any]:
    openai = importlib.import_module("openai")
    httpx2 = importlib.import_module("httpx2")

    def make(handler: Handler) -> Any:
        http = httpx2.Client(transport=httpx2.MockTransport(handler))
        return openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1", http_client=http, max_retries=0)

    return make


@pytest.fixture
def anthropic_client() -> Callable[[Handler], Any]:
    anthropic = importlib.import_module("anthropic")
    httpx2 = importlib.import_module("httpx2")

    def make(handler: Handler) -> Any:
        http = httpx2.Client(transport=httpx2.MockTransport(handler))
        return anthropic.Anthropic(api_key="sk-test", base_url="http://anthropic.test", http_client=http, max_retries=0)

    return make


@pytest.fixture
def gp_cost() -> Callable[..., float]:
    """What genai-prices itself charges, from genai-prices' own usage semantics (input includes cache)."""
    genai_prices = importlib.import_module("genai_prices")

    def cost(
        model_ref: str,
        provider_id: str | None,
        *,
        total_input: int = 0,
        output: int = 0,
        cache_read: int = 0,
        cache_write: int = 0,
        cache_write_1h: int = 0,
        reasoning: int = 0,
        at: datetime | None = None,
    ) -> float:
        usage = genai_prices.Usage(
            input_tokens=total_input,
            output_tokens=output,
            cache_read_tokens=cache_read or None,
            cache_write_tokens=cache_write or None,
            cache_write_1h_tokens=cache_write_1h or None,
            output_reasoning_tokens=reasoning or None,
        )
        calc = genai_prices.calc_price(usage, model_ref, provider_id=provider_id, genai_request_timestamp=at)
        return float(calc.total_price)

    return cost
