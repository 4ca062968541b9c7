"""Token counts estimated from text, for responses that report no usage.

The default is a documented heuristic: about four characters per token (OpenAI's rule
of thumb for English text), rounded up per text part, plus four tokens of framing per
chat message.
It is within roughly ±25 % for English prose and worse for code or other scripts, which
is why usages built here are marked ``estimated`` and priced with source ``estimated``.

``exact=True`` uses ``tiktoken`` when it is installed (it is not a dependency). It is
opt-in because tiktoken downloads its BPE files on first use, which would put a network
call in the app's path; any tiktoken failure falls back to the heuristic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from glassbox.cost.usage import LLMUsage

CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 4


def _pieces(value: Any) -> tuple[list[str], int]:
    """The texts inside a prompt-like value, and how many chat messages it held."""
    if value is None or isinstance(value, (bytes, bytearray)):
        return [], 0
    if isinstance(value, str):
        return [value], 0
    if isinstance(value, Mapping):
        if "content" in value or "role" in value:
            return _pieces(value.get("content"))[0], 1
        return _pieces(value.get("text"))[0], 0
    if isinstance(value, (list, tuple)):
        texts: list[str] = []
        messages = 0
        for item in value:
            t, m = _pieces(item)
            texts.extend(t)
            messages += m
        return texts, messages
    content = getattr(value, "content", None)  # LangChain messages and similar objects
    if content is not None:
        return _pieces(content)[0], 1
    return [str(value)], 0


@lru_cache(maxsize=16)
def _encoding(model: str | None) -> Any:
    import tiktoken

    if model:
        try:
            return tiktoken.encoding_for_model(model)
        except KeyError:
            pass
    return tiktoken.get_encoding("o200k_base")


def estimate_tokens(value: Any, *, model: str | None = None, exact: bool = False) -> int:
    """Estimated token count of a string, a chat message list, or message dicts/objects."""
    texts, messages = _pieces(value)
    framing = TOKENS_PER_MESSAGE * messages
    if exact:
        try:
            encoding = _encoding(model)
            return sum(len(encoding.encode(t, disallowed_special=())) for t in texts) + framing
        except Exception:  # noqa: BLE001 - tiktoken missing, unknown or offline: fall back
            pass
    return sum(math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts) + framing


def estimate_usage(
    model: str | None,
    prompt: Any = None,
    completion: Any = None,
    *,
    provider: str | None = None,
    operation: str = "chat",
    exact: bool = False,
    base: LLMUsage | None = None,
) -> LLMUsage:
    """A usage with counts estimated from the prompt and completion, marked ``estimated``.

    With ``base`` (a usage whose response reported no or partial counts) that usage is
    completed in place: its model, provider and finish reasons are kept, and only the
    missing input or output count is estimated.
    """
    if base is None:
        base = LLMUsage(request_model=model, provider=provider, operation=operation, source_kind="estimate")
        missing_input = missing_output = True
    else:
        base.request_model = base.request_model or model
        base.provider = base.provider or provider
        missing_input = base.input_tokens is None and base.cache_read_tokens is None and base.cache_write_tokens is None
        missing_output = base.output_tokens is None
        if missing_input or missing_output:
            base.source_kind = f"{base.source_kind}+estimate" if base.source_kind else "estimate"
    if missing_input:
        base.input_tokens = estimate_tokens(prompt, model=base.model, exact=exact)
    if missing_output:
        base.output_tokens = estimate_tokens(completion, model=base.model, exact=exact)
    base.estimated = base.estimated or missing_input or missing_output
    return base
