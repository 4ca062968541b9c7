"""The one table of span attributes glassbox reads usage from, whatever convention wrote them.

Each row says which ``LLMUsage`` figure an attribute holds and which convention defines it.
Rows for one figure are tried in table order; the first present wins. docs/costs.md shows
this same table (a test keeps the two equal).

Conventions: ``otel`` is the current OTel GenAI registry; ``otel-deprecated`` its deprecated
names; ``openinference`` is Arize OpenInference (``llm.*``); ``openllmetry`` is Traceloop's
``opentelemetry-semantic-conventions-ai``; ``anthropic-sdk`` is the span the anthropic SDK
(2.x) emits itself (scope ``com.anthropic.sdk.python``); ``glassbox`` is what glassbox adds
where no convention has a name (written on export, read back on ingest).

Figures: ``total_input`` INCLUDES cache reads and writes (every convention's input count
does); ``cache_write`` is every cache write, ``cache_write_5m``/``cache_write_1h`` its parts
by TTL; ``input_audio``/``output_audio`` are the audio parts of input/output;
``web_searches`` etc. are request counts of priced server-side tools; ``service_tier`` is
the tier that served the call (``flex``, ``priority``, ``batch``, …).
"""

from __future__ import annotations

from typing import NamedTuple


class UsageAttribute(NamedTuple):
    name: str
    figure: str
    convention: str


USAGE_ATTRIBUTES: tuple[UsageAttribute, ...] = tuple(
    UsageAttribute(*row)
    for row in (
        ("gen_ai.provider.name", "provider", "otel"),
        ("gen_ai.system", "provider", "otel-deprecated"),
        ("llm.provider", "provider", "openinference"),
        ("llm.system", "provider", "openinference"),
        ("gen_ai.request.model", "request_model", "otel"),
        ("llm.request.model_name", "request_model", "openinference"),
        ("gen_ai.response.model", "response_model", "otel"),
        ("llm.model_name", "response_model", "openinference"),
        ("llm.response.model_name", "response_model", "openinference"),
        ("gen_ai.response.id", "response_id", "otel"),
        ("gen_ai.usage.input_tokens", "total_input", "otel"),
        ("gen_ai.usage.prompt_tokens", "total_input", "otel-deprecated"),
        ("llm.token_count.prompt", "total_input", "openinference"),
        ("gen_ai.usage.output_tokens", "output", "otel"),
        ("gen_ai.usage.completion_tokens", "output", "otel-deprecated"),
        ("llm.token_count.completion", "output", "openinference"),
        ("gen_ai.usage.cache_read.input_tokens", "cache_read", "otel"),
        ("gen_ai.usage.cache_read_input_tokens", "cache_read", "openllmetry"),
        ("llm.token_count.prompt_details.cache_read", "cache_read", "openinference"),
        ("llm.token_count.prompt_details.cache_input", "cache_read", "openinference"),
        ("gen_ai.usage.cache_creation.input_tokens", "cache_write", "otel"),
        ("gen_ai.usage.cache_write.input_tokens", "cache_write", "anthropic-sdk"),
        ("gen_ai.usage.cache_creation_input_tokens", "cache_write", "openllmetry"),
        ("llm.token_count.prompt_details.cache_write", "cache_write", "openinference"),
        ("anthropic.usage.cache_creation.ephemeral_5m_input_tokens", "cache_write_5m", "anthropic-sdk"),
        ("anthropic.usage.cache_creation.ephemeral_1h_input_tokens", "cache_write_1h", "anthropic-sdk"),
        ("gen_ai.usage.reasoning.output_tokens", "reasoning", "otel"),
        ("gen_ai.usage.reasoning_tokens", "reasoning", "openllmetry"),
        ("llm.usage.reasoning_tokens", "reasoning", "openllmetry"),
        ("llm.token_count.completion_details.reasoning", "reasoning", "openinference"),
        ("llm.token_count.prompt_details.audio", "input_audio", "openinference"),
        ("glassbox.usage.cache_audio_read_tokens", "cache_audio_read", "glassbox"),
        ("llm.token_count.completion_details.audio", "output_audio", "openinference"),
        ("glassbox.usage.web_searches", "web_searches", "glassbox"),
        ("glassbox.usage.code_executions", "code_executions", "glassbox"),
        ("glassbox.usage.storage_searches", "storage_searches", "glassbox"),
        ("glassbox.usage.social_searches", "social_searches", "glassbox"),
        ("openai.response.service_tier", "service_tier", "otel"),
        ("gen_ai.openai.response.service_tier", "service_tier", "otel-deprecated"),
        ("anthropic.response.service_tier", "service_tier", "anthropic-sdk"),
        ("glassbox.usage.service_tier", "service_tier", "glassbox"),
        ("gen_ai.response.finish_reasons", "finish_reasons", "otel"),
        ("llm.finish_reason", "finish_reasons", "openinference"),
        ("llm.cost.total", "provider_cost", "openinference"),
    )
)

# figure -> attribute names in the order they are tried
BY_FIGURE: dict[str, tuple[str, ...]] = {}
for _row in USAGE_ATTRIBUTES:
    BY_FIGURE[_row.figure] = (*BY_FIGURE.get(_row.figure, ()), _row.name)
del _row

# Request-count figures of priced server-side tools: LLMUsage field -> genai-prices usage key.
TOOL_FIGURES = {
    "web_searches": "web_searches",
    "code_executions": "code_executions",
    "storage_searches": "storage_searches",
    "social_searches": "social_searches",
}

# What glassbox writes for a figure no convention names (export; read back by the rows above).
EXPORT_NAMES = {
    "input_audio": "llm.token_count.prompt_details.audio",
    "output_audio": "llm.token_count.completion_details.audio",
    "cache_audio_read": "glassbox.usage.cache_audio_read_tokens",
    "cache_write_5m": "anthropic.usage.cache_creation.ephemeral_5m_input_tokens",
    "cache_write_1h": "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
    "web_searches": "glassbox.usage.web_searches",
    "code_executions": "glassbox.usage.code_executions",
    "storage_searches": "glassbox.usage.storage_searches",
    "social_searches": "glassbox.usage.social_searches",
    "service_tier": "glassbox.usage.service_tier",
}


def markdown_table() -> str:
    """The table as docs/costs.md shows it."""
    lines = ["| attribute | figure | convention |", "| --- | --- | --- |"]
    lines += [f"| `{r.name}` | {r.figure} | {r.convention} |" for r in USAGE_ATTRIBUTES]
    return "\n".join(lines)
