"""What the run page shows of each stage: badges for the waterfall and a readable card per LLM call.

Every value comes from the stored span (model output included) and is rendered by autoescaped templates.
"""

from __future__ import annotations

from typing import Any

# Prompt/completion as each convention stores them (glassbox's gb.llm(), OTel GenAI, OpenInference, OpenLLMetry).
PROMPT_KEYS = ("gen_ai.prompt", "gen_ai.input.messages", "input.value", "traceloop.entity.input")
COMPLETION_KEYS = ("gen_ai.completion", "gen_ai.output.messages", "output.value", "traceloop.entity.output")
USAGE_PREFIX = "gen_ai.usage."
TOKEN_LABELS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read.input_tokens": "cache read",
    "cache_creation.input_tokens": "cache write",
    "cache_write.input_tokens": "cache write",
    "reasoning_tokens": "reasoning",
    "output_tokens.reasoning": "reasoning",
    "input_tokens.audio": "audio in",
    "output_tokens.audio": "audio out",
}


def is_llm_call(span: Any) -> bool:
    return bool(span.model) or span.tokens_in is not None or span.tokens_out is not None


def tokens_by_kind(span: Any) -> list[tuple[str, int]]:
    """(kind, count) for every token count the span carries, input and output first."""
    attrs = span.attributes or {}
    out: dict[str, int] = {}
    if span.tokens_in is not None:
        out["input"] = int(span.tokens_in)
    if span.tokens_out is not None:
        out["output"] = int(span.tokens_out)
    for key, value in attrs.items():
        if not key.startswith(USAGE_PREFIX) or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        rest = key[len(USAGE_PREFIX) :]
        label = TOKEN_LABELS.get(rest, rest.replace("_", " ").replace(".", " "))
        out.setdefault(label, int(value))
    return list(out.items())


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return attrs[key]
    prefix = keys[1].rsplit(".", 1)[0] + "."  # flattened messages: gen_ai.input.messages.0.content …
    flat = {k: v for k, v in attrs.items() if k.startswith(prefix)}
    return flat or None


def llm_card(span: Any) -> dict[str, Any] | None:
    """The LLM call of a stage, as the run page's card shows it; None for a stage that made none."""
    if not is_llm_call(span):
        return None
    attrs = span.attributes or {}
    finish = attrs.get("gen_ai.response.finish_reasons") or attrs.get("llm.finish_reason")
    if isinstance(finish, list | tuple):
        finish = ", ".join(str(f) for f in finish)
    return {
        "model": span.model or attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"),
        "provider": attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"),
        "tokens": tokens_by_kind(span),
        "cost_usd": span.cost_usd,
        "cost_source": attrs.get("glassbox.cost.source") or ("priced" if span.cost_usd is not None else "unknown"),
        "finish": finish,
        "prompt": _first(attrs, PROMPT_KEYS),
        "completion": _first(attrs, COMPLETION_KEYS),
    }


def badges(span: Any, decisions: int) -> list[tuple[str, str]]:
    """(css class, text) badges for a stage's waterfall row: its decisions, LLM call and error."""
    out: list[tuple[str, str]] = []
    if decisions:
        out.append(("dec", f"{decisions} decision{'s' if decisions != 1 else ''}"))
    if is_llm_call(span):
        tokens = (span.tokens_in or 0) + (span.tokens_out or 0)
        cost = "" if span.cost_usd is None else f" · ${span.cost_usd:.4f}"
        out.append(("llm", f"{span.model or 'LLM'} · {tokens:,} tok{cost}"))
    if span.status == "error":
        kind = (span.error or {}).get("type") if isinstance(span.error, dict) else None
        out.append(("err", kind or "error"))
    return out
