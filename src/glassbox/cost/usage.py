"""Token usage read from LLM responses, whatever SDK or convention produced them.

``extract_usage`` reads the real SDK objects of OpenAI (Chat Completions, Responses,
legacy Completions, Embeddings, streamed chunks), Anthropic (Messages, stream events),
Google ``google-genai`` (``GenerateContentResponse``) and LangChain (``AIMessage``), their
plain-dict forms (``resp.model_dump()`` or the JSON body), and OpenTelemetry span
attributes (``gen_ai.*`` current and legacy, OpenInference ``llm.*``). It imports none of
those SDKs: objects are recognised by their type's module and by their shape.

Counting rules (one convention inside glassbox, whatever the provider's):

* ``input_tokens`` EXCLUDES cached tokens: it is what was billed at the plain input rate.
  OpenAI ``prompt_tokens``/``input_tokens``, Google ``prompt_token_count`` and LangChain
  ``input_tokens`` include the cache, so the cache counts are subtracted; Anthropic's
  ``input_tokens`` already excludes it.
* ``cache_read_tokens`` / ``cache_write_tokens`` are separate; ``total_input_tokens`` is
  the sum of the three, which is what OTel's ``gen_ai.usage.input_tokens`` means.
* ``output_tokens`` INCLUDES reasoning tokens (they are billed as output);
  ``reasoning_tokens`` is the subset.

``operation`` holds the ``gen_ai.operation.name`` value: ``chat`` (Chat Completions,
Anthropic Messages, LangChain, and the OpenAI Responses API, for which the convention's
well-known ``chat`` applies; ``source_kind`` is ``openai.responses`` there),
``text_completion``, ``embeddings``, ``generate_content`` (Gemini). ``provider`` is the
``gen_ai.provider.name`` value (``openai``, ``anthropic``, ``gcp.gen_ai``, …).

Bad input never raises: an unrecognised object gives ``None``; a recognised response
with missing or invalid counts gives an ``LLMUsage`` whose bad counts are ``None`` and
whose ``problems`` say why (``["no usage in response"]`` when there was none at all), so
the caller can warn and estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

from glassbox.cost.attributes import BY_FIGURE, EXPORT_NAMES

MAX_TOKENS = 10**9
"""Counts above this are treated as corrupt (no single call uses a billion tokens)."""

NO_USAGE = "no usage in response"

_EXTRA_EXPORTS = (
    ("cache_write_5m_tokens", "cache_write_5m"),
    ("cache_write_1h_tokens", "cache_write_1h"),
    ("input_audio_tokens", "input_audio"),
    ("output_audio_tokens", "output_audio"),
    ("cache_audio_read_tokens", "cache_audio_read"),
    ("web_searches", "web_searches"),
    ("code_executions", "code_executions"),
    ("storage_searches", "storage_searches"),
    ("social_searches", "social_searches"),
    ("service_tier", "service_tier"),
)
_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "cache_audio_read_tokens",
    "web_searches",
    "code_executions",
    "storage_searches",
    "social_searches",
)


@dataclass(slots=True)
class LLMUsage:
    """Token counts (and what is known about the call) for one LLM request.

    ``cache_write_1h_tokens`` / ``cache_write_5m_tokens`` are the parts of ``cache_write_tokens``
    written with a one-hour / five-minute TTL (Anthropic bills the hour higher).
    ``input_audio_tokens`` / ``output_audio_tokens`` are the audio parts of the input (total,
    cache included) and of the output; ``cache_audio_read_tokens`` the audio part of cache reads.
    ``web_searches``, ``code_executions``, ``storage_searches``, ``social_searches`` count
    priced server-side tool requests. ``service_tier`` is the tier that served the call
    (``flex``, ``priority``, ``batch``…, as the provider names it); ``response_id`` the
    provider's id of the response (``gen_ai.response.id``).
    ``provider_cost_usd`` is a cost the response itself reported (OpenRouter's
    ``usage.cost``, OpenInference's ``llm.cost.total``). ``estimated`` is set when the
    counts were estimated from text rather than reported.
    """

    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_5m_tokens: int | None = None
    input_audio_tokens: int | None = None
    output_audio_tokens: int | None = None
    cache_audio_read_tokens: int | None = None
    web_searches: int | None = None
    code_executions: int | None = None
    storage_searches: int | None = None
    social_searches: int | None = None
    service_tier: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    operation: str | None = None
    provider_cost_usd: float | None = None
    source_kind: str | None = None
    estimated: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for."""
        return self.response_model or self.request_model

    @property
    def total_input_tokens(self) -> int | None:
        """Input + cache read + cache write (OTel's ``gen_ai.usage.input_tokens``); None if none known."""
        a, b, c = self.input_tokens, self.cache_read_tokens, self.cache_write_tokens
        if a is None and b is None and c is None:
            return None
        return (a or 0) + (b or 0) + (c or 0)  # read on every call: no generators

    @property
    def has_counts(self) -> bool:
        """Whether any input or output count is known."""
        return not (
            self.input_tokens is None
            and self.output_tokens is None
            and self.cache_read_tokens is None
            and self.cache_write_tokens is None
        )

    def to_attributes(self) -> dict[str, Any]:
        """OTel GenAI semantic-convention span attributes (only the known ones).

        ``gen_ai.usage.input_tokens`` is the TOTAL input including cached tokens, as the
        convention requires; the cache counts and reasoning count are its/output's subsets.
        """
        attrs: dict[str, Any] = {}
        for key, value in (
            ("gen_ai.provider.name", self.provider),
            ("gen_ai.operation.name", self.operation),
            ("gen_ai.request.model", self.request_model),
            ("gen_ai.response.model", self.response_model),
            ("gen_ai.usage.input_tokens", self.total_input_tokens),
            ("gen_ai.usage.output_tokens", self.output_tokens),
            ("gen_ai.usage.cache_read.input_tokens", self.cache_read_tokens),
            ("gen_ai.usage.cache_creation.input_tokens", self.cache_write_tokens),
            ("gen_ai.usage.reasoning.output_tokens", self.reasoning_tokens),
        ):
            if value is not None:
                attrs[key] = value
        if self.finish_reasons:
            attrs["gen_ai.response.finish_reasons"] = list(self.finish_reasons)
        if self.response_id:
            attrs["gen_ai.response.id"] = self.response_id
        if self.has_extras:
            for name, figure in _EXTRA_EXPORTS:  # figures no GenAI attribute names: see cost/attributes.py
                value = getattr(self, name)
                if value is not None:
                    attrs[EXPORT_NAMES[figure]] = value
        return attrs

    @property
    def has_extras(self) -> bool:
        """Whether any figure beyond plain tokens, cache and reasoning is known (audio, TTL split, tools, tier)."""
        return not (
            self.cache_write_5m_tokens is None
            and self.cache_write_1h_tokens is None
            and self.input_audio_tokens is None
            and self.output_audio_tokens is None
            and self.cache_audio_read_tokens is None
            and self.web_searches is None
            and self.code_executions is None
            and self.storage_searches is None
            and self.social_searches is None
            and self.service_tier is None
        )

    @property
    def completeness(self) -> int:
        """How many figures of the call are known (the dedupe rule keeps the most complete record)."""
        n = 0
        for name in _COUNT_FIELDS:
            if getattr(self, name) is not None:
                n += 1
        return n + (self.service_tier is not None) + (self.response_id is not None) + bool(self.finish_reasons)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LLMUsage:
        """Inverse of ``to_dict``; unknown keys are ignored."""
        names = set(cls.__slots__)
        u = cls(**{k: v for k, v in d.items() if k in names})
        u.finish_reasons = list(u.finish_reasons or [])
        u.problems = list(u.problems or [])
        return u


# ---------------------------------------------------------------------------------------------
# Reading helpers: one accessor for SDK objects and dicts alike, and count validation.


_MAPPING_TYPES: dict[type, bool] = {dict: True}


def _is_mapping(obj: Any) -> bool:
    """``isinstance(obj, Mapping)``, memoised per type: the ABC check is the costliest step of a read."""
    t = type(obj)
    known = _MAPPING_TYPES.get(t)
    if known is None:
        known = isinstance(obj, Mapping)
        if len(_MAPPING_TYPES) < 1024:
            _MAPPING_TYPES[t] = known
    return known


_CLASS_ATTRS: dict[tuple[type, str], bool] = {}


def _pydantic_get_other(obj: Any, key: str) -> Any:
    """A pydantic model's property or extra (``_get`` answers declared fields itself), without
    ``getattr``'s exception path for absent names.

    SDK response types (openai, anthropic, google-genai) are pydantic models; a name that
    is neither a field nor a class attribute (property) can only be an extra.
    """
    t = type(obj)
    is_class_attr = _CLASS_ATTRS.get((t, key))
    if is_class_attr is None:
        is_class_attr = hasattr(t, key)
        if len(_CLASS_ATTRS) < 4096:
            _CLASS_ATTRS[(t, key)] = is_class_attr
    if is_class_attr:
        return getattr(obj, key, None)
    extra = getattr(obj, "__pydantic_extra__", None)
    return extra.get(key) if extra else None


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` otherwise; None when absent or unreadable."""
    if obj is None:
        return None
    fields = getattr(type(obj), "__pydantic_fields__", None)
    if fields is not None and type(fields) is dict:
        if key in fields:  # a declared field of an SDK response: the common case
            return obj.__dict__.get(key)
        try:
            return _pydantic_get_other(obj, key)
        except Exception:  # noqa: BLE001 - a property that raises means "not available"
            return None
    if _is_mapping(obj):
        return obj.get(key)
    try:
        return getattr(obj, key, None)
    except Exception:  # noqa: BLE001 - a property that raises means "not available"
        return None


def _get2(obj: Any, snake: str, camel: str) -> Any:
    v = _get(obj, snake)
    return _get(obj, camel) if v is None else v


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _reason(value: Any) -> str | None:
    """A finish reason as a string (enums give their value)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, str) and inner else str(value)


class _Reader:
    """Collects problems while reading counts from one response."""

    __slots__ = ("problems",)

    def __init__(self) -> None:
        self.problems: list[str] = []

    def count(self, value: Any, name: str) -> int | None:
        """A valid token count, or None (with a problem noted) for negative, huge or non-integral values."""
        if value is None:
            return None
        v: int
        if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case, without the ABC checks below
            return value
        if isinstance(value, bool):
            self.problems.append(f"{name}={value!r} is not a token count; ignored")
            return None
        if isinstance(value, Integral) or (isinstance(value, float) and math.isfinite(value) and value.is_integer()):
            v = int(value)
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            v = int(value.strip())
        else:
            self.problems.append(f"{name}={value!r} is not a whole number; ignored")
            return None
        if v < 0:
            self.problems.append(f"{name}={v} is negative; ignored")
            return None
        if v > MAX_TOKENS:
            self.problems.append(f"{name}={v} is implausibly large (> 10^9); ignored")
            return None
        return v

    def exclusive(self, total: int | None, total_name: str, *cached: int | None) -> int | None:
        """``total`` minus the cached parts it includes.

        If the cached parts exceed the total, the source evidently reported input
        *excluding* the cache; the total is then kept as is and a problem noted.
        """
        if total is None:
            return None
        parts = 0
        for c in cached:  # a loop, not sum(<generator>): this runs on every LLM call
            if c is not None:
                parts += c
        if parts > total:
            self.problems.append(
                f"cached tokens ({parts}) exceed {total_name} ({total}); {total_name} taken as excluding the cache"
            )
            return total
        return total - parts

    def within(self, part: int | None, part_name: str, whole: int | None, whole_name: str) -> int | None:
        """``part`` if it fits inside ``whole``, else None with a problem noted."""
        if part is not None and whole is not None and part > whole:
            self.problems.append(f"{part_name} ({part}) exceed {whole_name} ({whole}); ignored")
            return None
        return part

    def cost(self, value: Any) -> float | None:
        if value is None or isinstance(value, bool):
            return None
        try:
            c = float(value)
        except (TypeError, ValueError):
            self.problems.append(f"reported cost {value!r} is not a number; ignored")
            return None
        if not math.isfinite(c) or c < 0:
            self.problems.append(f"reported cost {value!r} is not a finite non-negative number; ignored")
            return None
        return c


def _finish(usage: LLMUsage, reader: _Reader) -> LLMUsage:
    usage.problems.extend(reader.problems)
    if not usage.has_counts and NO_USAGE not in usage.problems:
        usage.problems.insert(0, NO_USAGE)
    return usage


# ---------------------------------------------------------------------------------------------
# OpenAI: Chat Completions (and chunks), legacy Completions, Embeddings, Responses.

_OPENAI_OBJECTS = {
    "chat.completion": ("chat", "openai.chat"),
    "chat.completion.chunk": ("chat", "openai.chat.chunk"),
    "text_completion": ("text_completion", "openai.completion"),
    "list": ("embeddings", "openai.embeddings"),
    "response": ("chat", "openai.responses"),
}


def _from_openai(obj: Any) -> LLMUsage | None:
    obj_type = _str(_get(obj, "object"))
    usage = _get(obj, "usage")
    if obj_type is None:  # not a response object: a bare usage, or a stream event wrapping a response
        if usage is None and (_get(obj, "prompt_tokens") is not None or _get(obj, "input_tokens") is not None):
            return _from_usage_shape(None, obj)  # a bare CompletionUsage / ResponseUsage
        kind = _str(_get(obj, "type"))
        if kind and kind.startswith("response.") and _get(obj, "response") is not None:
            return _from_openai(_get(obj, "response"))  # a Responses API stream event carrying the response
    if obj_type == "response" or (obj_type is None and _get(usage, "input_tokens") is not None):
        return _openai_responses(obj, usage)
    operation, source = _OPENAI_OBJECTS.get(obj_type or "", ("chat", "openai.chat"))
    if obj_type is None and _is_embeddings(obj):
        operation, source = "embeddings", "openai.embeddings"
    r = _Reader()
    u = LLMUsage(
        provider="openai",
        response_model=_str(_get(obj, "model")),
        operation=operation,
        source_kind=source,
        service_tier=_str(_get(obj, "service_tier")),
        response_id=_str(_get(obj, "id")),
    )
    _openai_chat_counts(u, usage, r)
    choices = _get(obj, "choices")
    if type(choices) is list or isinstance(choices, Sequence):
        u.finish_reasons = [fr for c in choices if (fr := _reason(_get(c, "finish_reason")))]
    return _finish(u, r)


def _is_embeddings(obj: Any) -> bool:
    data = _get(obj, "data")
    return isinstance(data, Sequence) and bool(data) and _get(data[0], "object") == "embedding"


def _openai_chat_counts(u: LLMUsage, usage: Any, r: _Reader) -> None:
    """``usage.prompt_tokens`` includes ``prompt_tokens_details.cached_tokens`` (and cache writes)."""
    if usage is None:
        return
    prompt = r.count(_get(usage, "prompt_tokens"), "prompt_tokens")
    pd = _get(usage, "prompt_tokens_details")
    cached = r.count(_get(pd, "cached_tokens"), "cached_tokens")
    if cached is None:  # DeepSeek-style OpenAI-compatible usage
        cached = r.count(_get(usage, "prompt_cache_hit_tokens"), "prompt_cache_hit_tokens")
    written = r.count(_get(pd, "cache_write_tokens"), "cache_write_tokens")
    u.input_tokens = r.exclusive(prompt, "prompt_tokens", cached, written)
    u.cache_read_tokens = cached
    u.cache_write_tokens = written
    if u.operation != "embeddings" or _get(usage, "completion_tokens") is not None:
        u.output_tokens = r.count(_get(usage, "completion_tokens"), "completion_tokens")
    cd = _get(usage, "completion_tokens_details")
    reasoning = r.count(_get(cd, "reasoning_tokens"), "reasoning_tokens")
    u.reasoning_tokens = r.within(reasoning, "reasoning_tokens", u.output_tokens, "completion_tokens")
    if pd is not None:
        audio_in = r.count(_get(pd, "audio_tokens"), "prompt_tokens_details.audio_tokens")
        u.input_audio_tokens = r.within(audio_in, "audio input tokens", prompt, "prompt_tokens")
    if cd is not None:
        audio_out = r.count(_get(cd, "audio_tokens"), "completion_tokens_details.audio_tokens")
        u.output_audio_tokens = r.within(audio_out, "audio output tokens", u.output_tokens, "completion_tokens")
    u.provider_cost_usd = r.cost(_get(usage, "cost"))


_RESPONSES_TOOL_CALLS = {
    "web_search_call": "web_searches",
    "file_search_call": "storage_searches",
    "code_interpreter_call": "code_executions",
}


def _openai_responses(obj: Any, usage: Any) -> LLMUsage:
    """Responses API: ``usage.input_tokens`` includes ``input_tokens_details.cached_tokens``."""
    r = _Reader()
    u = LLMUsage(
        provider="openai",
        response_model=_str(_get(obj, "model")),
        operation="chat",
        source_kind="openai.responses",
        service_tier=_str(_get(obj, "service_tier")),
        response_id=_str(_get(obj, "id")),
    )
    output = _get(obj, "output")
    if type(output) is list and output:  # priced server-side tools: one output item per request
        for item in output:
            figure = _RESPONSES_TOOL_CALLS.get(_str(_get(item, "type")) or "")
            if figure is not None:
                setattr(u, figure, (getattr(u, figure) or 0) + 1)
    if usage is not None:
        total = r.count(_get(usage, "input_tokens"), "input_tokens")
        details = _get(usage, "input_tokens_details")
        cached = r.count(_get(details, "cached_tokens"), "cached_tokens")
        written = r.count(_get(details, "cache_write_tokens"), "cache_write_tokens")
        u.input_tokens = r.exclusive(total, "input_tokens", cached, written)
        u.cache_read_tokens = cached
        u.cache_write_tokens = written
        u.output_tokens = r.count(_get(usage, "output_tokens"), "output_tokens")
        reasoning = r.count(_get(_get(usage, "output_tokens_details"), "reasoning_tokens"), "reasoning_tokens")
        u.reasoning_tokens = r.within(reasoning, "reasoning_tokens", u.output_tokens, "output_tokens")
        u.provider_cost_usd = r.cost(_get(usage, "cost"))
    reason = _reason(_get(_get(obj, "incomplete_details"), "reason")) or _reason(_get(obj, "status"))
    if reason:
        u.finish_reasons = [reason]
    return _finish(u, r)


# ---------------------------------------------------------------------------------------------
# Anthropic: Message, Usage, and raw stream events.

_ANTHROPIC_TYPES = frozenset({"message", "message_start", "message_delta"})


def _from_anthropic(obj: Any) -> LLMUsage | None:
    kind = _str(_get(obj, "type"))
    if kind == "message_start":
        return _from_anthropic(_get(obj, "message"))
    if kind == "message_delta":
        return _anthropic_events([obj])
    if kind is None and _get(obj, "usage") is None and _get(obj, "input_tokens") is not None:
        return _anthropic_build(None, obj, [])  # a bare Usage object
    if kind not in (None, "message"):
        return None
    reason = _reason(_get(obj, "stop_reason"))
    return _anthropic_build(obj, _get(obj, "usage"), [reason] if reason else [])


def _anthropic_build(msg: Any, usage: Any, reasons: list[str], source: str = "anthropic.messages") -> LLMUsage:
    """Anthropic's ``input_tokens`` EXCLUDES the cache; cache reads and writes are separate."""
    r = _Reader()
    u = LLMUsage(
        provider="anthropic",
        response_model=_str(_get(msg, "model")),
        operation="chat",
        source_kind=source,
        finish_reasons=reasons,
        response_id=_str(_get(msg, "id")),
    )
    if usage is not None:
        u.service_tier = _str(_get(usage, "service_tier"))
        tools = _get(usage, "server_tool_use")
        if tools is not None:
            u.web_searches = r.count(_get(tools, "web_search_requests"), "web_search_requests")
            u.code_executions = r.count(_get(tools, "code_execution_requests"), "code_execution_requests")
        u.input_tokens = r.count(_get(usage, "input_tokens"), "input_tokens")
        u.cache_read_tokens = r.count(_get(usage, "cache_read_input_tokens"), "cache_read_input_tokens")
        written = r.count(_get(usage, "cache_creation_input_tokens"), "cache_creation_input_tokens")
        breakdown = _get(usage, "cache_creation")
        one_hour = r.count(_get(breakdown, "ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens")
        five_min = r.count(_get(breakdown, "ephemeral_5m_input_tokens"), "ephemeral_5m_input_tokens")
        if written is None and (five_min is not None or one_hour is not None):
            written = (five_min or 0) + (one_hour or 0)
        u.cache_write_tokens = written
        u.cache_write_5m_tokens = r.within(
            five_min, "ephemeral_5m_input_tokens", written, "cache_creation_input_tokens"
        )
        u.cache_write_1h_tokens = r.within(
            one_hour, "ephemeral_1h_input_tokens", written, "cache_creation_input_tokens"
        )
        u.output_tokens = r.count(_get(usage, "output_tokens"), "output_tokens")
        thinking = r.count(_get(_get(usage, "output_tokens_details"), "thinking_tokens"), "thinking_tokens")
        u.reasoning_tokens = r.within(thinking, "thinking_tokens", u.output_tokens, "output_tokens")
    return _finish(u, r)


_ANTHROPIC_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "output_tokens_details",
    "server_tool_use",
    "service_tier",
)


def _anthropic_events(events: Sequence[Any]) -> LLMUsage:
    """``message_start`` carries the input usage; each ``message_delta`` the cumulative output (and updates)."""
    msg: Any = None
    merged: dict[str, Any] = {}
    reasons: list[str] = []
    for ev in events:
        kind = _str(_get(ev, "type"))
        if kind == "message_start":
            msg = _get(ev, "message")
            start_usage = _get(msg, "usage")
            merged.update({k: _get(start_usage, k) for k in _ANTHROPIC_USAGE_KEYS})
        elif kind == "message_delta":
            delta_usage = _get(ev, "usage")
            merged.update({k: v for k in _ANTHROPIC_USAGE_KEYS if (v := _get(delta_usage, k)) is not None})
            reason = _reason(_get(_get(ev, "delta"), "stop_reason"))
            if reason:
                reasons = [reason]
    usage = merged if any(v is not None for v in merged.values()) else None
    return _anthropic_build(msg, usage, reasons, source="anthropic.stream")


# ---------------------------------------------------------------------------------------------
# Google google-genai: GenerateContentResponse (snake_case objects or camelCase JSON).


def _from_google(obj: Any) -> LLMUsage:
    """``prompt_token_count`` includes ``cached_content_token_count``; thoughts are billed as output."""
    r = _Reader()
    meta = _get2(obj, "usage_metadata", "usageMetadata")
    if meta is None and _get2(obj, "prompt_token_count", "promptTokenCount") is not None:
        meta, obj = obj, None  # a bare usage-metadata object
    u = LLMUsage(
        provider="gcp.gen_ai",
        response_model=_str(_get2(obj, "model_version", "modelVersion")),
        operation="generate_content",
        source_kind="google.genai",
    )
    if meta is not None:
        prompt = r.count(_get2(meta, "prompt_token_count", "promptTokenCount"), "prompt_token_count")
        tool_use = r.count(
            _get2(meta, "tool_use_prompt_token_count", "toolUsePromptTokenCount"), "tool_use_prompt_token_count"
        )
        cached = r.count(
            _get2(meta, "cached_content_token_count", "cachedContentTokenCount"), "cached_content_token_count"
        )
        if prompt is not None or tool_use is not None:
            total = (prompt or 0) + (tool_use or 0)
            u.input_tokens = r.exclusive(total, "prompt_token_count", cached)
        u.cache_read_tokens = cached
        candidates = r.count(_get2(meta, "candidates_token_count", "candidatesTokenCount"), "candidates_token_count")
        thoughts = r.count(_get2(meta, "thoughts_token_count", "thoughtsTokenCount"), "thoughts_token_count")
        if candidates is not None or thoughts is not None:
            u.output_tokens = (candidates or 0) + (thoughts or 0)
        u.reasoning_tokens = thoughts
        audio_in = _modality(meta, r, "prompt_tokens_details", "promptTokensDetails")
        audio_tool = _modality(meta, r, "tool_use_prompt_tokens_details", "toolUsePromptTokensDetails")
        if audio_in is not None or audio_tool is not None:
            u.input_audio_tokens = (audio_in or 0) + (audio_tool or 0)
        u.cache_audio_read_tokens = _modality(meta, r, "cache_tokens_details", "cacheTokensDetails")
        u.output_audio_tokens = _modality(meta, r, "candidates_tokens_details", "candidatesTokensDetails")
    cands = _get(obj, "candidates")
    if isinstance(cands, Sequence):
        u.finish_reasons = [fr for c in cands if (fr := _reason(_get2(c, "finish_reason", "finishReason")))]
    return _finish(u, r)


def _modality(meta: Any, r: _Reader, snake: str, camel: str, modality: str = "AUDIO") -> int | None:
    """The token count of one modality in a Gemini ``*_tokens_details`` list (None if not listed)."""
    details = _get2(meta, snake, camel)
    if not isinstance(details, Sequence) or isinstance(details, str):
        return None
    total = None
    for d in details:
        m = _get(d, "modality")
        name = _reason(m)
        if name is not None and name.upper().rsplit(".", 1)[-1] == modality:
            n = r.count(_get2(d, "token_count", "tokenCount"), f"{snake}.{modality}")
            if n is not None:
                total = (total or 0) + n
    return total


# ---------------------------------------------------------------------------------------------
# LangChain: AIMessage / AIMessageChunk (object or model_dump()).

_LANGCHAIN_PROVIDERS = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai",
    "google_anthropic_vertex": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "mistralai": "mistral_ai",
    "xai": "x_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "perplexity": "perplexity",
}


def _is_langchain(obj: Any) -> bool:
    if (type(obj).__module__ or "").startswith("langchain_core."):
        return True
    return (
        _is_mapping(obj)
        and obj.get("type") in ("ai", "AIMessageChunk")
        and ("usage_metadata" in obj or "response_metadata" in obj)
    )


def _from_langchain(obj: Any) -> LLMUsage:
    """LangChain's ``input_tokens`` INCLUDES ``input_token_details.cache_read`` and ``cache_creation``."""
    r = _Reader()
    meta = _get(obj, "response_metadata") or {}
    provider = _str(_get(meta, "model_provider"))
    u = LLMUsage(
        provider=_LANGCHAIN_PROVIDERS.get(provider, provider) if provider else None,
        response_model=_str(_get(meta, "model_name")) or _str(_get(meta, "model")),
        operation="chat",
        source_kind="langchain",
    )
    um = _get(obj, "usage_metadata")
    if um is not None:
        total = r.count(_get(um, "input_tokens"), "input_tokens")
        details = _get(um, "input_token_details")
        cached = r.count(_get(details, "cache_read"), "cache_read")
        written = r.count(_get(details, "cache_creation"), "cache_creation")
        u.input_tokens = r.exclusive(total, "input_tokens", cached, written)
        u.cache_read_tokens = cached
        u.cache_write_tokens = written
        u.output_tokens = r.count(_get(um, "output_tokens"), "output_tokens")
        reasoning = r.count(_get(_get(um, "output_token_details"), "reasoning"), "reasoning")
        u.reasoning_tokens = r.within(reasoning, "reasoning", u.output_tokens, "output_tokens")
        audio_in = r.count(_get(details, "audio"), "input_token_details.audio")
        u.input_audio_tokens = r.within(audio_in, "audio input tokens", total, "input_tokens")
        audio_out = r.count(_get(_get(um, "output_token_details"), "audio"), "output_token_details.audio")
        u.output_audio_tokens = r.within(audio_out, "audio output tokens", u.output_tokens, "output_tokens")
    elif meta:
        _langchain_metadata_counts(u, meta, r)
    reason = _reason(_get(meta, "finish_reason")) or _reason(_get(meta, "stop_reason"))
    if reason:
        u.finish_reasons = [reason]
    return _finish(u, r)


def _langchain_metadata_counts(u: LLMUsage, meta: Any, r: _Reader) -> None:
    """Counts held only in ``response_metadata``, in the provider's own shape.

    langchain-openai: ``token_usage`` (Chat Completions usage); langchain-anthropic: ``usage``
    (Anthropic usage, input excluding the cache); langchain-google-genai: ``usage_metadata``
    (Gemini usage metadata). Each is read by the provider's own reader.
    """
    found: LLMUsage | None = None
    token_usage = _get(meta, "token_usage")
    usage = _get(meta, "usage")
    google = _get(meta, "usage_metadata")
    if token_usage is not None:
        found = _from_openai({"object": "chat.completion", "usage": token_usage})
    elif usage is not None and (
        _get(usage, "prompt_tokens") is not None or _get(usage, "completion_tokens") is not None
    ):
        found = _from_openai({"object": "chat.completion", "usage": usage})
    elif usage is not None:
        found = _anthropic_build(None, usage, [])
    elif google is not None:
        found = _from_google({"usage_metadata": google})
    if found is None:
        return
    for name in _COUNT_FIELDS:
        setattr(u, name, getattr(found, name))
    u.service_tier = u.service_tier or found.service_tier or _str(_get(meta, "service_tier"))
    u.provider = u.provider or {
        "openai.chat": "openai",
        "anthropic.messages": "anthropic",
        "google.genai": "gcp.gen_ai",
    }.get(found.source_kind or "")
    r.problems.extend(p for p in found.problems if p != NO_USAGE)
    u.source_kind = "langchain.response_metadata"


# ---------------------------------------------------------------------------------------------
# OpenTelemetry span attributes: current gen_ai.*, legacy gen_ai.*, OpenInference llm.*.

_ATTR_PROVIDER = BY_FIGURE["provider"]
_ATTR_REQUEST_MODEL = BY_FIGURE["request_model"]
_ATTR_RESPONSE_MODEL = BY_FIGURE["response_model"]
_ATTR_INPUT = BY_FIGURE["total_input"]
_ATTR_OUTPUT = BY_FIGURE["output"]
_ATTR_CACHE_READ = BY_FIGURE["cache_read"]
_ATTR_CACHE_WRITE = BY_FIGURE["cache_write"]
_ATTR_REASONING = BY_FIGURE["reasoning"]
_ATTR_FINISH = BY_FIGURE["finish_reasons"]
_ATTR_COST = BY_FIGURE["provider_cost"]
# (LLMUsage field, figure) of the counts read as they are (no cache arithmetic)
_ATTR_PLAIN_COUNTS = (
    ("cache_write_5m_tokens", "cache_write_5m"),
    ("cache_write_1h_tokens", "cache_write_1h"),
    ("input_audio_tokens", "input_audio"),
    ("output_audio_tokens", "output_audio"),
    ("cache_audio_read_tokens", "cache_audio_read"),
    ("web_searches", "web_searches"),
    ("code_executions", "code_executions"),
    ("storage_searches", "storage_searches"),
    ("social_searches", "social_searches"),
)
_OI_OPERATIONS = {"LLM": "chat", "EMBEDDING": "embeddings"}


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        v = attrs.get(k)
        if v is not None:
            return k, v
    return None, None


def _is_attributes(obj: Mapping[Any, Any]) -> bool:
    return any(isinstance(k, str) and k.startswith(("gen_ai.", "llm.")) for k in obj)


def extract_usage_from_attributes(attrs: Mapping[str, Any]) -> LLMUsage | None:
    """Usage from a span's attributes (OTel GenAI current/legacy or OpenInference); None if it has none.

    Every convention's input count is taken to INCLUDE cached tokens (the GenAI spec says
    so; OpenLLMetry copies OpenAI's ``prompt_tokens`` which do; OpenInference's
    ``prompt_details`` are a breakdown of the prompt). When the cache counts exceed the
    input count, the emitter evidently used the exclusive (Anthropic) convention, and
    the input count is kept as is, with a problem noted.
    """
    try:
        return _from_attributes(attrs)
    except Exception as exc:  # noqa: BLE001 - foreign attributes must never break tracing
        return LLMUsage(source_kind="otel", problems=[NO_USAGE, f"could not read usage attributes: {exc!r}"])


def _from_attributes(attrs: Mapping[str, Any]) -> LLMUsage | None:
    r = _Reader()
    in_key, total = _first(attrs, _ATTR_INPUT)
    out_key, out = _first(attrs, _ATTR_OUTPUT)
    _, req_model = _first(attrs, _ATTR_REQUEST_MODEL)
    _, resp_model = _first(attrs, _ATTR_RESPONSE_MODEL)
    _, provider = _first(attrs, _ATTR_PROVIDER)
    if in_key is None and out_key is None and req_model is None and resp_model is None:
        return None
    any_gen_ai = any(isinstance(k, str) and k.startswith("gen_ai.") for k in attrs)
    operation = _str(attrs.get("gen_ai.operation.name")) or _OI_OPERATIONS.get(
        _str(attrs.get("openinference.span.kind")) or ""
    )
    u = LLMUsage(
        provider=_str(provider),
        request_model=_str(req_model),
        response_model=_str(resp_model),
        operation=operation,
        source_kind="otel" if any_gen_ai else "openinference",
    )
    cached = r.count(_first(attrs, _ATTR_CACHE_READ)[1], "cache_read")
    written = r.count(_first(attrs, _ATTR_CACHE_WRITE)[1], "cache_write")
    for name, figure in _ATTR_PLAIN_COUNTS:
        setattr(u, name, r.count(_first(attrs, BY_FIGURE[figure])[1], figure))
    if written is None and (u.cache_write_5m_tokens is not None or u.cache_write_1h_tokens is not None):
        written = (u.cache_write_5m_tokens or 0) + (u.cache_write_1h_tokens or 0)
    u.service_tier = _str(_first(attrs, BY_FIGURE["service_tier"])[1])
    u.response_id = _str(_first(attrs, BY_FIGURE["response_id"])[1])
    u.input_tokens = r.exclusive(r.count(total, in_key or "input_tokens"), in_key or "input_tokens", cached, written)
    u.cache_read_tokens = cached
    u.cache_write_tokens = written
    u.output_tokens = r.count(out, out_key or "output_tokens")
    reasoning = r.count(_first(attrs, _ATTR_REASONING)[1], "reasoning")
    u.reasoning_tokens = r.within(reasoning, "reasoning_tokens", u.output_tokens, "output_tokens")
    _, reasons = _first(attrs, _ATTR_FINISH)
    if isinstance(reasons, str):
        reasons = [reasons]
    if isinstance(reasons, Sequence):
        u.finish_reasons = [fr for x in reasons if (fr := _reason(x))]
    u.provider_cost_usd = r.cost(_first(attrs, _ATTR_COST)[1])
    return _finish(u, r)


# ---------------------------------------------------------------------------------------------
# Streams: lists of chunks or events.


_RESPONSES_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _from_sequence(items: Sequence[Any]) -> LLMUsage | None:
    items = [i for i in items if i is not None]
    if not items:
        return None
    if any(_str(_get(i, "type")) in ("message_start", "message_delta") for i in items):
        return _anthropic_events(items)
    for i in reversed(items):  # Responses API stream: the terminal event carries the whole response
        kind = _str(_get(i, "type"))
        if kind in _RESPONSES_TERMINAL and _get(i, "response") is not None:
            return _from_openai(i)
    if any(_is_langchain(i) for i in items):
        return _sum_langchain([_from_langchain(i) for i in items if _is_langchain(i)])
    parts = [u for i in items if (u := _extract(i)) is not None]
    if not parts:
        return None
    # OpenAI and Google streams: the last chunk with usage holds the totals.
    chosen = next((u for u in reversed(parts) if u.has_counts), parts[-1])
    result = LLMUsage(**{name: getattr(chosen, name) for name in LLMUsage.__slots__})
    result.response_model = next((u.response_model for u in parts if u.response_model), None)
    result.finish_reasons = [fr for u in parts for fr in u.finish_reasons]
    result.problems = list(chosen.problems)
    if result.source_kind and not result.source_kind.endswith(".stream"):
        result.source_kind = result.source_kind.removesuffix(".chunk") + ".stream"
    return result


def _sum_langchain(parts: list[LLMUsage]) -> LLMUsage:
    """LangChain chunks are additive (``chunk + chunk`` sums usage), so sum the counts."""
    out = LLMUsage(operation="chat", source_kind="langchain.stream")
    for p in parts:
        out.provider = out.provider or p.provider
        out.response_model = out.response_model or p.response_model
        out.finish_reasons.extend(p.finish_reasons)
        out.problems.extend(x for x in p.problems if x != NO_USAGE and x not in out.problems)
        for name in _COUNT_FIELDS:
            v = getattr(p, name)
            if v is not None:
                setattr(out, name, (getattr(out, name) or 0) + v)
    if not out.has_counts:
        out.problems.insert(0, NO_USAGE)
    return out


# ---------------------------------------------------------------------------------------------
# Dispatch.


def _extract(obj: Any) -> LLMUsage | None:
    if obj is None or isinstance(obj, (str, bytes, bytearray, int, float, complex)):
        return None
    if isinstance(obj, (list, tuple)):
        return _from_sequence(obj)
    if _is_mapping(obj):
        return _from_attributes(obj) if _is_attributes(obj) else _from_shape(obj)
    module = type(obj).__module__ or ""  # SDK objects: recognised by their package, cheaply
    if module.startswith("openai."):
        return _from_openai(obj)
    if module.startswith("anthropic."):
        return _from_anthropic(obj)
    if module.startswith("google.genai."):
        return _from_google(obj)
    if module.startswith("langchain_core."):
        return _from_langchain(obj)
    return _from_shape(obj)


def _from_shape(obj: Any) -> LLMUsage | None:
    """A dict or an object of unknown type, recognised by its fields."""
    if _is_langchain(obj):
        return _from_langchain(obj)
    if any(
        _get(obj, k) is not None
        for k in (
            "usage_metadata",
            "usageMetadata",
            "model_version",
            "modelVersion",
            "prompt_token_count",
            "promptTokenCount",
        )
    ):
        return _from_google(obj)
    kind = _str(_get(obj, "type"))
    if kind in _ANTHROPIC_TYPES:
        return _from_anthropic(obj)
    if _str(_get(obj, "object")) in _OPENAI_OBJECTS:
        return _from_openai(obj)
    if kind and kind.startswith("response.") and _get(obj, "response") is not None:
        return _from_openai(obj)
    usage = _get(obj, "usage")
    if usage is not None:
        return _from_usage_shape(obj, usage)
    if _get(obj, "prompt_tokens") is not None or _get(obj, "input_tokens") is not None:
        return _from_usage_shape(None, obj)  # a bare usage object or dict
    return None


def _from_usage_shape(obj: Any, usage: Any) -> LLMUsage | None:
    """A response of unknown type, recognised by the shape of its usage."""
    if _get(usage, "prompt_tokens") is not None or _get(usage, "completion_tokens") is not None:
        return _from_openai(
            {
                "object": _get(obj, "object"),
                "model": _get(obj, "model"),
                "usage": usage,
                "choices": _get(obj, "choices"),
                "data": _get(obj, "data"),
            }
        )
    if _get(usage, "input_tokens") is None and _get(usage, "output_tokens") is None:
        return None
    if any(_get(usage, k) is not None for k in ("cache_creation_input_tokens", "cache_read_input_tokens")):
        return _anthropic_build(obj, usage, [])
    return _openai_responses(obj, usage)


def extract_usage(obj: Any, *, provider: str | None = None, model: str | None = None) -> LLMUsage | None:
    """Usage from an LLM response (SDK object, dict, stream chunk list, or span attributes).

    ``provider`` (an OTel ``gen_ai.provider.name``) overrides the detected one; ``model``
    is the model the caller asked for (``request_model``). Returns None for an object of
    unknown type; never raises.
    """
    try:
        usage = _extract(obj)
    except Exception as exc:  # noqa: BLE001 - reading usage must never break the app
        usage = LLMUsage(problems=[NO_USAGE, f"could not read usage: {type(exc).__name__}: {exc}"])
    if usage is None:
        return None
    if provider:
        usage.provider = provider
    if model:
        usage.request_model = model
    return usage
