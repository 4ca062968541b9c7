"""What an LLM call cost, and where that number came from.

``Pricer.price(usage)`` answers a ``PriceResult`` whose ``source`` is one of

* ``provider``  — the response reported its own cost (``usage.provider_cost_usd``);
* ``priced``    — computed from a local override or the genai-prices table;
* ``estimated`` — computed the same way, but from estimated token counts;
* ``unknown``   — no price could be found: ``cost_usd`` is None (never a silent 0)
  and ``message`` says why.

Local overrides are checked first, then genai-prices (imported lazily, on first use).
genai-prices' ``Usage.input_tokens`` is the TOTAL input including cache reads and
writes (its ``cache_*_tokens`` are subsets it subtracts before charging the input
rate), so glassbox passes ``input + cache_read + cache_write`` and every cached token is
charged once, at its cache rate. Its ``output_tokens`` includes reasoning tokens
(``output_reasoning_tokens`` is the subset), as glassbox's does.

A model name is matched only by genai-prices' own rules for that model (exact names for
OpenAI models; prefixes where genai-prices declares every such name to be the same
model, e.g. dated ``claude-sonnet-4-5-*`` snapshots). glassbox adds no prefix guessing of
its own, so an unknown ``gpt-4o-2099-preview`` stays ``unknown``.

Speed: the model lookup and a compiled rate plan are cached per (provider, model) and
per price table, so a repeat price of the same model is a few dict look-ups and a
handful of ``Decimal`` operations. Each compiled plan is checked against genai-prices'
own calculation when it is built; a model whose prices the plan cannot reproduce is
priced by genai-prices on every call instead (slower, still exact).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from glassbox.cost.usage import LLMUsage

SOURCES = ("provider", "priced", "estimated", "unknown")
OVERRIDE_KEYS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")

_MTOK = Decimal(1_000_000)
_ZERO = Decimal(0)

# OTel gen_ai.provider.name (and common aliases) → genai-prices provider id.
_PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gen_ai": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "google": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "azure": "azure",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "openrouter": "openrouter",
    "together": "together",
    "fireworks": "fireworks",
}

# The usage keys glassbox reports to genai-prices, in the order of the raw-count tuple.
_REPORTED = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_reasoning_tokens",
    "cache_write_5m_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "cache_audio_read_tokens",
    "web_searches",
    "code_executions",
    "storage_searches",
    "social_searches",
)
# LLMUsage field of each reported key after the first six (same order)
_EXTRA_FIELDS = (
    "cache_write_5m_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "cache_audio_read_tokens",
    "web_searches",
    "code_executions",
    "storage_searches",
    "social_searches",
)
_PROBES = (  # one value per _REPORTED key, subsets inside their wholes: below and above usual tiers
    (1_017, 301, 203, 101, 11, 29, 43, 157, 37, 19, 3, 2, 5, 7),
    (3_000_017, 700_001, 1_000_003, 500_009, 100_003, 200_003, 200_017, 900_001, 100_019, 300_007, 13, 11, 17, 19),
)
# Request context genai-prices selects price variants by: (provider id or None for any, tier) -> context
_TIER_CONTEXT = {
    ("anthropic", "batch"): {"processing": "batch"},
    (None, "batch"): {"processing": "batch"},
}


@dataclass(slots=True, frozen=True)
class PriceResult:
    """The cost of one call in USD, its split, and its provenance.

    ``input_cost`` covers every input-side charge (plain input, cache reads, cache
    writes), ``output_cost`` every output-side one; ``cost_usd`` may exceed their sum by
    per-request fees. ``model_ref`` is what was matched: ``"<genai-prices provider>:<model
    id>"`` or ``"override:<name>"`` (None when nothing was). ``message`` explains an
    ``unknown`` result, or notes caveats of a priced one.
    """

    cost_usd: float | None
    source: str
    input_cost: float | None = None
    output_cost: float | None = None
    model_ref: str | None = None
    message: str | None = None


def _unknown(message: str, model_ref: str | None = None) -> PriceResult:
    return PriceResult(None, "unknown", model_ref=model_ref, message=message)


# ---------------------------------------------------------------------------------------------
# Local overrides.


class _Rates:
    """USD per million tokens for one overridden model."""

    __slots__ = ("cache_read", "cache_write", "input", "output")

    def __init__(self, name: str, spec: Mapping[str, Any]) -> None:
        if not isinstance(spec, Mapping):
            raise ValueError(f"price override for {name!r} must be a table of rates, got {type(spec).__name__}")
        unknown = set(spec) - set(OVERRIDE_KEYS)
        if unknown:
            raise ValueError(
                f"price override for {name!r} has unknown keys {sorted(unknown)}; allowed: {OVERRIDE_KEYS}"
            )
        if "input_per_mtok" not in spec and "output_per_mtok" not in spec:
            raise ValueError(f"price override for {name!r} needs input_per_mtok and/or output_per_mtok")
        values: dict[str, Decimal | None] = {}
        for key in OVERRIDE_KEYS:
            raw = spec.get(key)
            if raw is None:
                values[key] = None
                continue
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
                raise ValueError(f"price override {name!r}.{key} must be a number, got {raw!r}")
            try:
                value = Decimal(str(raw))
            except ArithmeticError:
                raise ValueError(f"price override {name!r}.{key} must be a number, got {raw!r}") from None
            if not value.is_finite() or value < 0:
                raise ValueError(f"price override {name!r}.{key} must be a finite non-negative number, got {raw!r}")
            values[key] = value
        self.input = values["input_per_mtok"]
        self.output = values["output_per_mtok"]
        self.cache_read = values["cache_read_per_mtok"]
        self.cache_write = values["cache_write_per_mtok"]


def load_overrides(path: str | Path) -> dict[str, dict[str, float]]:
    """Price overrides from a TOML file's ``[prices."model"]`` tables.

    Also reads ``[tool.glassbox.prices]`` (a pyproject.toml). Raises ``ValueError`` for
    a malformed file or rate, ``OSError`` if it cannot be read.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    prices = data.get("prices")
    if prices is None:
        prices = data.get("tool", {}).get("glassbox", {}).get("prices", {})
    if not isinstance(prices, Mapping):
        raise ValueError(f"{path}: [prices] must be a table of model tables")
    out: dict[str, dict[str, float]] = {}
    for name, spec in prices.items():
        _Rates(name, spec)  # validate now, with the file's name in the error
        out[name] = {k: float(v) for k, v in spec.items()}
    return out


# ---------------------------------------------------------------------------------------------
# A compiled genai-prices rate plan: leaf-count coefficients over the reported counts.


class _Plan:
    """Rates of one genai-prices ``ModelPrice``, reduced to what glassbox's counts can touch."""

    __slots__ = ("items", "priced")

    def __init__(self, items: tuple[tuple[tuple[tuple[int, int], ...], Any, int, int], ...], priced: frozenset[str]):
        # items: (coefficients over the raw counts, Decimal or ((start, price)…, base), per, direction 1/2/0)
        self.items = items
        self.priced = priced

    def run(self, raw: tuple[int, ...]) -> tuple[Decimal, Decimal, Decimal]:
        total_in = raw[0]
        total = inp = out = _ZERO
        for coeffs, price, per, direction in self.items:
            if not coeffs:
                count = 1
            else:
                count = 0
                for i, c in coeffs:  # a loop, not sum(<generator>): this runs on every priced call
                    count += c * raw[i]
            if count == 0:
                continue
            if type(price) is tuple:
                tiers, applicable = price
                for start, tier_price in tiers:
                    if total_in > start:
                        applicable = tier_price
                        break
            else:
                applicable = price
            unit_price = applicable * Decimal(count) / per
            total += unit_price
            if direction == 1:
                inp += unit_price
            elif direction == 2:
                out += unit_price
        return total, inp, out


def _compile(gp: Any, model_price: Any) -> _Plan | None:
    """A plan reproducing ``model_price.calc_price``, or None if it cannot (then genai-prices is used)."""
    units = gp.data_units.unit_data
    by_price_key = {spec.get("price_key", key): (key, spec) for key, spec in units.items()}
    priced: list[tuple[str, Any, int, dict[str, str]]] = []
    for price_key, value in model_price.__dict__.items():
        if price_key.startswith("_") or value is None:
            continue
        if price_key not in by_price_key:
            return None
        usage_key, spec = by_price_key[price_key]
        priced.append((usage_key, value, int(spec["per"]), dict(spec.get("dimensions", {}))))
    dims = {key: d for key, _, _, d in priced}

    def descends(ancestor: str, unit: str) -> bool:
        return ancestor != unit and dims[ancestor].items() <= dims[unit].items()

    # Leaf count of each priced unit = its raw count minus its priced descendants' leaves,
    # as a linear combination of the reported raw counts (unreported counts are 0).
    leaves: dict[str, dict[int, int]] = {}
    for key in sorted(dims, key=lambda k: (-len(dims[k]), k)):
        if key == "requests":
            continue
        combo: dict[int, int] = {_REPORTED.index(key): 1} if key in _REPORTED else {}
        for other, other_combo in leaves.items():
            if descends(key, other):
                for i, c in other_combo.items():
                    combo[i] = combo.get(i, 0) - c
        leaves[key] = {i: c for i, c in combo.items() if c}
    items = []
    for usage_key, value, per, d in priced:
        coeffs = () if usage_key == "requests" else tuple(sorted(leaves[usage_key].items()))
        if usage_key != "requests" and not coeffs:
            continue  # always zero for glassbox's counts
        if isinstance(value, Decimal):
            price: Any = value
        elif isinstance(value, gp.types.TieredPrices):
            price = (tuple((t.start, t.price) for t in sorted(value.tiers, key=lambda t: -t.start)), value.base)
        else:
            return None
        direction = {"input": 1, "output": 2}.get(d.get("direction", ""), 0)
        items.append((coeffs, price, per, direction))
    plan = _Plan(tuple(items), frozenset(dims))
    for probe in _PROBES:  # the plan must agree exactly with genai-prices itself
        expected = model_price.calc_price(gp.Usage(**dict(zip(_REPORTED, probe, strict=True))))
        got = plan.run(probe)
        if got != (expected["total_price"], expected["input_price"], expected["output_price"]):
            return None
    return plan


# ---------------------------------------------------------------------------------------------
# The pricer.


class Pricer:
    """Prices ``LLMUsage`` from local overrides, then the genai-prices table. Never raises from ``price``."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None, *, cache_size: int = 4096) -> None:
        self._overrides: dict[str, tuple[str, _Rates]] = {}
        for name, spec in (overrides or {}).items():
            self.add_override(name, spec)
        self._cache_size = max(16, cache_size)
        self._gp: Any = None
        self._gp_error: str | None = None
        self._snapshot: Any = None
        self._models: dict[tuple[str | None, str], tuple[Any, Any, str | None] | str] = {}
        self._plans: dict[int, tuple[Any, _Plan | None]] = {}
        self._variants: dict[tuple[int, int, tuple[int, ...]], tuple[Any, Any, Any]] = {}

    def add_override(self, model: str, rates: Mapping[str, Any]) -> None:
        """Price ``model`` (matched case-insensitively, exactly) at these per-million-token rates."""
        self._overrides[model.strip().lower()] = (model, _Rates(model, rates))

    def clear_cache(self) -> None:
        self._models.clear()
        self._plans.clear()
        self._variants.clear()

    def warm(self) -> None:
        """Load genai-prices and its price table now (``gb.configure`` calls it off the app's thread)."""
        try:
            gp = self._load_gp()
            if gp is not None:
                snapshot = gp.data_snapshot.get_snapshot()
                snapshot.find_provider_model("gpt-4o-mini", None, "openai", None)
        except Exception:  # noqa: BLE001 - warming is an optimisation; the first price() reports problems
            pass

    def price(self, usage: LLMUsage, *, at: datetime | None = None) -> PriceResult:
        """The cost of ``usage``; ``at`` is the request time (prices change), default now.

        The call's ``service_tier`` selects genai-prices' price variants (OpenAI ``flex`` /
        ``priority``, Anthropic and others' ``batch``), at the request time as well.
        """
        try:
            return self._price(usage, at)
        except Exception as exc:  # noqa: BLE001 - pricing must never break the app
            return _unknown(f"pricing failed: {type(exc).__name__}: {exc}")

    # -- steps --------------------------------------------------------------------------------

    def _price(self, usage: LLMUsage, at: datetime | None) -> PriceResult:
        if not isinstance(usage, LLMUsage):
            return _unknown(f"not an LLMUsage: {type(usage).__name__}")
        reported = usage.provider_cost_usd
        if reported is not None and _valid_cost(reported):
            return PriceResult(float(reported), "provider")
        if not usage.has_counts:
            why = "; ".join(usage.problems) if usage.problems else "no token counts"
            return _unknown(f"cannot price without token counts ({why})")
        counts = _counts(usage)
        if isinstance(counts, str):
            return _unknown(counts)
        raw, notes = counts
        source = "estimated" if usage.estimated else "priced"
        names = [m for m in (usage.response_model, usage.request_model) if isinstance(m, str) and m.strip()]
        if not names:
            return _unknown("no model name to price")
        for name in names:
            hit = self._overrides.get(name.strip().lower())
            if hit is not None:
                return _priced_override(hit, raw, source, notes)
        return self._price_table(usage, names, raw, source, notes, at)

    def _load_gp(self) -> Any:
        if self._gp is None and self._gp_error is None:
            try:
                import genai_prices
                import genai_prices.data_snapshot
                import genai_prices.data_units
                import genai_prices.types
            except ImportError as exc:
                self._gp_error = f"genai-prices (>=0.2) is not installed ({exc}); add a price override for this model"
            else:
                self._gp = genai_prices
        return self._gp

    def _price_table(
        self,
        usage: LLMUsage,
        names: list[str],
        raw: tuple[int, ...],
        source: str,
        notes: list[str],
        at: datetime | None,
    ) -> PriceResult:
        gp = self._load_gp()
        if gp is None:
            return _unknown(self._gp_error or "genai-prices unavailable")
        snapshot = gp.data_snapshot.get_snapshot()
        if snapshot is not self._snapshot:  # prices were updated: drop everything derived from the old table
            self.clear_cache()
            self._snapshot = snapshot
        provider_id = _provider_id(usage.provider)
        found: tuple[Any, Any, str | None] | None = None
        misses: list[str] = []
        for name in names:
            entry = self._lookup(snapshot, provider_id, name)
            if isinstance(entry, str):
                misses.append(entry)
            else:
                found = entry
                break
        if found is None:
            return _unknown("; ".join(dict.fromkeys(misses)))
        provider, model, lookup_note = found
        if lookup_note:
            notes = [lookup_note, *notes]
        model_ref = f"{provider.id}:{model.id}"
        context = _price_context(provider.id, usage.service_tier) if model.price_variants else None
        if isinstance(model.prices, gp.types.ModelPrice) and context is None:
            model_price = model.prices
            ts = None
        else:
            ts = _utc(at) if at is not None else datetime.now(UTC)
            model_price = self._resolve(gp, model, ts, context)
        cached = self._plans.get(id(model_price))
        if cached is None or cached[0] is not model_price:
            try:
                plan = _compile(gp, model_price)
            except Exception:  # noqa: BLE001 - an uncompilable price is priced by genai-prices itself
                plan = None
            self._bound(self._plans)
            self._plans[id(model_price)] = cached = (model_price, plan)
        plan = cached[1]
        if plan is not None:
            total, inp, out = plan.run(raw)
            if raw[0] and "input_tokens" not in plan.priced:
                notes.append(f"{model_ref} has no per-token input price; input tokens not charged")
            if raw[1] and "output_tokens" not in plan.priced:
                notes.append(f"{model_ref} has no per-token output price; output tokens not charged")
        else:
            gp_usage = gp.Usage(**{k: v for k, v in zip(_REPORTED, raw, strict=True) if v})
            try:
                when = ts if ts is not None else (_utc(at) if at is not None else None)
                calc = model.calc_price(gp_usage, provider, genai_request_timestamp=when, price_context=context)
            except ValueError as exc:
                return _unknown(f"genai-prices could not price {model_ref}: {exc}", model_ref)
            total, inp, out = calc.total_price, calc.input_price, calc.output_price
        return PriceResult(float(total), source, float(inp), float(out), model_ref, "; ".join(notes) or None)

    def _resolve(self, gp: Any, model: Any, ts: datetime, context: dict[str, str] | None) -> Any:
        """The model's prices at ``ts`` for the request ``context``: the same object while nothing changes,
        so the compiled plan of a tier is reused (genai-prices copies a variant's prices on every call)."""
        standard = model.get_prices(ts)
        if not context:
            return standard
        active = tuple(
            i
            for i, v in enumerate(model.price_variants)
            if (v.constraint is None or v.constraint.active(ts))
            and all(context.get(k) == val for k, val in v.when.items())
        )
        if not active:
            return standard
        key = (id(model), id(standard), active)
        hit = self._variants.get(key)
        if hit is not None and hit[0] is model and hit[1] is standard:
            return hit[2]
        resolved = model.get_prices(ts, context)
        self._bound(self._variants)
        self._variants[key] = (model, standard, resolved)
        return resolved

    def _lookup(self, snapshot: Any, provider_id: str | None, name: str) -> tuple[Any, Any, str | None] | str:
        key = (provider_id, name.strip().lower())
        entry = self._models.get(key)
        if entry is not None:
            return entry
        try:
            provider, model = snapshot.find_provider_model(name, None, provider_id, None)
            entry = (provider, model, None)
        except LookupError as exc:
            entry = f"no price for {name!r}" + (f" from provider {provider_id!r}" if provider_id else "") + f" ({exc})"
            if provider_id is not None:  # e.g. a DeepSeek model called through the OpenAI SDK
                try:
                    provider, model = snapshot.find_provider_model(name, None, None, None)
                    entry = (
                        provider,
                        model,
                        f"{provider_id!r} has no price for {name!r}; matched by model name to provider {provider.id!r}",
                    )
                except LookupError:
                    pass
        self._bound(self._models)
        self._models[key] = entry
        return entry

    def _bound(self, cache: dict[Any, Any]) -> None:
        """Drop the oldest entries (FIFO) so a cache stays under ``cache_size``; safe across threads."""
        while len(cache) >= self._cache_size:
            try:
                cache.pop(next(iter(cache)), None)
            except (StopIteration, RuntimeError):
                break


def _valid_cost(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _provider_id(provider: str | None) -> str | None:
    if not provider or not isinstance(provider, str):
        return None
    p = provider.strip().lower()
    return _PROVIDER_IDS.get(p, p) or None


def _price_context(provider_id: str | None, tier: str | None) -> dict[str, str] | None:
    """genai-prices' request context for a service tier (None when the tier changes nothing)."""
    if not tier:
        return None
    t = tier.strip().lower()
    ctx = _TIER_CONTEXT.get((provider_id, t)) or _TIER_CONTEXT.get((None, t))
    if ctx is not None:
        return ctx
    if t in ("standard", "auto", "default", "standard_only"):
        return None
    return {"service_tier": t}  # OpenAI / Google: flex, priority, fast, scale …


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _counts(usage: LLMUsage) -> tuple[tuple[int, ...], list[str]] | str:
    """(total input, output, cache read, cache write, 1h write, reasoning) and notes, or why they are unusable."""
    notes: list[str] = []
    vals: dict[str, int] = {}
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
    ):
        v = getattr(usage, name)
        if v is None:
            vals[name] = 0
            if name in ("input_tokens", "output_tokens"):
                notes.append(f"{name} unknown; counted as 0")
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return f"invalid {name}={v!r}: token counts must be non-negative integers"
        vals[name] = v
    if vals["cache_write_1h_tokens"] > vals["cache_write_tokens"]:
        notes.append("cache_write_1h_tokens exceed cache_write_tokens; 1h writes ignored")
        vals["cache_write_1h_tokens"] = 0
    if vals["reasoning_tokens"] > vals["output_tokens"]:
        notes.append("reasoning_tokens exceed output_tokens; reasoning breakdown ignored")
        vals["reasoning_tokens"] = 0
    total_in = vals["input_tokens"] + vals["cache_read_tokens"] + vals["cache_write_tokens"]
    if (
        usage.cache_write_5m_tokens is None
        and usage.input_audio_tokens is None
        and usage.output_audio_tokens is None
        and usage.cache_audio_read_tokens is None
        and usage.web_searches is None
        and usage.code_executions is None
        and usage.storage_searches is None
        and usage.social_searches is None
    ):  # the common case: plain tokens
        return (
            total_in,
            vals["output_tokens"],
            vals["cache_read_tokens"],
            vals["cache_write_tokens"],
            vals["cache_write_1h_tokens"],
            vals["reasoning_tokens"],
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ), notes
    extra: list[int] = []
    for name in _EXTRA_FIELDS:
        v = getattr(usage, name)
        if v is None:
            v = 0
        elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return f"invalid {name}={v!r}: counts must be non-negative integers"
        extra.append(v)
    five_min, audio_in, audio_out, audio_cached = extra[0], extra[1], extra[2], extra[3]
    if five_min + vals["cache_write_1h_tokens"] > vals["cache_write_tokens"]:
        notes.append("cache_write_5m_tokens + cache_write_1h_tokens exceed cache_write_tokens; 5m split ignored")
        extra[0] = 0
    if audio_cached > min(audio_in, vals["cache_read_tokens"]):
        notes.append("cache_audio_read_tokens exceed the audio input or cache reads; ignored")
        extra[3] = audio_cached = 0
    # Cache reads, cache writes and audio are parts of the input that overlap only in cached audio.
    if vals["cache_read_tokens"] + vals["cache_write_tokens"] + audio_in - audio_cached > total_in:
        notes.append("input_audio_tokens do not fit in the input beside the cache counts; audio split ignored")
        extra[1] = extra[3] = 0
    if audio_out + vals["reasoning_tokens"] > vals["output_tokens"]:
        notes.append("output_audio_tokens do not fit in output_tokens beside reasoning; audio split ignored")
        extra[2] = 0
    raw = (
        total_in,
        vals["output_tokens"],
        vals["cache_read_tokens"],
        vals["cache_write_tokens"],
        vals["cache_write_1h_tokens"],
        vals["reasoning_tokens"],
        *extra,
    )
    return raw, notes


def _priced_override(hit: tuple[str, _Rates], raw: tuple[int, ...], source: str, notes: list[str]) -> PriceResult:
    """Override rates: cache reads and writes default to the input rate when not given."""
    name, rates = hit
    total_in, out, cache_read, cache_write = raw[0], raw[1], raw[2], raw[3]
    plain_in = total_in - cache_read - cache_write
    in_rate = rates.input if rates.input is not None else _ZERO
    if rates.input is None and total_in:
        notes.append(f"override {name!r} has no input_per_mtok; input tokens not charged")
    if rates.output is None and out:
        notes.append(f"override {name!r} has no output_per_mtok; output tokens not charged")
    read_rate = rates.cache_read if rates.cache_read is not None else in_rate
    write_rate = rates.cache_write if rates.cache_write is not None else in_rate
    inp = (in_rate * plain_in + read_rate * cache_read + write_rate * cache_write) / _MTOK
    outp = (rates.output if rates.output is not None else _ZERO) * out / _MTOK
    return PriceResult(float(inp + outp), source, float(inp), float(outp), f"override:{name}", "; ".join(notes) or None)
