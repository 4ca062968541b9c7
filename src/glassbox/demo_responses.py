"""Provider responses for the demo: each provider's real wire format, as its SDK's own type.

The demo calls no API. It builds the JSON body the provider would have sent and, when the
provider's SDK is installed (``openai``, ``anthropic``, ``google-genai``), validates it into
that SDK's response class, exactly what ``client.….create()`` returns; without the SDK the
body itself is used, which ``gb.llm()`` reads the same way.
"""

from __future__ import annotations

from typing import Any

# Demo model name -> provider; all are in genai-prices, so the demo's costs are real prices.
MODELS = {
    "gpt-4o-mini": "openai",
    "gpt-4o": "openai",
    "claude-haiku-4-5": "anthropic",
    "gemini-2.5-flash": "google",
}


def _openai(model: str, prompt: int, out: int, cached: int, text: str) -> Any:
    body = {
        "id": "chatcmpl-demo",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": out,
            "total_tokens": prompt + out,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }
    try:
        from openai.types.chat import ChatCompletion
    except ImportError:
        return body
    return ChatCompletion.model_validate(body)


def _anthropic(model: str, prompt: int, out: int, cached: int, text: str) -> Any:
    body = {
        "id": "msg_demo",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        # Anthropic counts input *excluding* the cache, unlike OpenAI and Google.
        "usage": {
            "input_tokens": prompt - cached,
            "output_tokens": out,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 0,
        },
    }
    try:
        from anthropic.types import Message
    except ImportError:
        return body
    return Message.model_validate(body)


def _google(model: str, prompt: int, out: int, cached: int, text: str) -> Any:
    body = {
        "model_version": model,
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finish_reason": "STOP"}],
        "usage_metadata": {
            "prompt_token_count": prompt,
            "cached_content_token_count": cached,
            "candidates_token_count": out,
            "total_token_count": prompt + out,
        },
    }
    try:
        from google.genai.types import GenerateContentResponse
    except ImportError:
        return body
    return GenerateContentResponse.model_validate(body)


_BUILDERS = {"openai": _openai, "anthropic": _anthropic, "google": _google}


def provider_response(model: str, prompt_tokens: int, output_tokens: int, cached_tokens: int, text: str) -> Any:
    """The response ``model``'s provider SDK would return for a call with these token counts."""
    return _BUILDERS[MODELS[model]](model, prompt_tokens, output_tokens, cached_tokens, text)
