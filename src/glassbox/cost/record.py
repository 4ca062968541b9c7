"""Putting a priced LLM call onto a span: the attributes, counts and cost every face reads.

Used by ``gb.llm()`` (SDK), by the OTel folding processor (foreign spans from OpenLLMetry
or OpenInference instrumentors) and by the server's OTLP receiver, so an LLM call looks
the same in the store whichever way it arrived.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from glassbox.cost.pricing import Pricer, PriceResult, load_overrides
from glassbox.cost.usage import LLMUsage, extract_usage_from_attributes

log = logging.getLogger("glassbox")

COST_SOURCE = "glassbox.cost.source"
COST_USD = "glassbox.cost.usd"
COST_INPUT = "glassbox.cost.input_usd"
COST_OUTPUT = "glassbox.cost.output_usd"
COST_MODEL_REF = "glassbox.cost.model_ref"
COST_NOTE = "glassbox.cost.note"
USAGE_PROBLEMS = "glassbox.usage.problems"

# Least trusted first: a trace's cost source is the weakest of its calls' sources.
_TRUST = ("unknown", "estimated", "priced", "provider")


def weakest_source(a: str | None, b: str | None) -> str | None:
    """The less trustworthy of two cost sources (None when neither is known)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _TRUST.index(a) <= _TRUST.index(b) else b


def apply_usage(span: Any, usage: LLMUsage, price: PriceResult) -> None:
    """Set the span's model, token counts, cost and ``gen_ai.*`` / ``glassbox.cost.*`` attributes."""
    attrs = span.attributes if span.attributes is not None else {}
    attrs.update(usage.to_attributes())
    attrs[COST_SOURCE] = price.source
    if price.cost_usd is not None:
        attrs[COST_USD] = price.cost_usd
    if price.input_cost is not None:
        attrs[COST_INPUT] = price.input_cost
    if price.output_cost is not None:
        attrs[COST_OUTPUT] = price.output_cost
    if price.model_ref:
        attrs[COST_MODEL_REF] = price.model_ref
    if price.message:
        attrs[COST_NOTE] = price.message
    if usage.problems:
        attrs[USAGE_PROBLEMS] = "; ".join(usage.problems)
    span.attributes = attrs
    span.model = usage.model or span.model
    span.tokens_in = usage.total_input_tokens
    span.tokens_out = usage.output_tokens
    span.cost_usd = price.cost_usd


class Warnings:
    """Warn once per key (unknown model, unreadable response type) and stay quiet after."""

    def __init__(self) -> None:
        self._seen: set[Any] = set()
        self._lock = threading.Lock()

    def once(self, key: Any, message: str, *args: Any) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        log.warning(message, *args)


def make_pricer(prices: Mapping[str, Mapping[str, Any]] | None = None, prices_file: str | None = None) -> Pricer:
    """A Pricer with the override table of settings (``[prices]``) and/or a TOML/JSON file."""
    overrides: dict[str, dict[str, Any]] = {}
    if prices_file:
        overrides.update(load_overrides(prices_file))
    for name, rates in (prices or {}).items():
        overrides[name] = dict(rates)
    return Pricer(overrides)


def span_time(span: Any) -> datetime | None:
    """When the span's call was made (its start), for date-effective prices; None if it has no time."""
    start = getattr(span, "start_ns", None)
    if not isinstance(start, int) or start <= 0:
        return None
    return datetime.fromtimestamp(start / 1e9, UTC)


def price_span(span: Any, pricer: Pricer, warnings: Warnings | None = None) -> str | None:
    """Price a span that carries ``gen_ai.*`` / ``llm.*`` usage attributes; returns its cost source.

    The price is the one in effect at the span's start (an OTLP span sent late, or imported
    from an old trail, is priced at the date of its call, not of its arrival). Spans without
    usage attributes, and spans already priced, are left alone (None).
    """
    attrs = span.attributes
    if not attrs or COST_SOURCE in attrs:
        return attrs.get(COST_SOURCE) if attrs else None
    usage = extract_usage_from_attributes(attrs)
    if usage is None or not (usage.has_counts or usage.provider_cost_usd is not None):
        return None
    price = pricer.price(usage, at=span_time(span))
    if price.source == "unknown" and warnings is not None:
        warnings.once(
            ("model", usage.provider, usage.model),
            "glassbox: no price for %s: %s",
            usage.model or "an LLM call",
            price.message,
        )
    apply_usage(span, usage, price)
    return price.source
