"""Flag and experiment definitions: plain data parsed (and checked) from glassbox.toml, the API or the store.

A **flag** has a ``default``, optional ``rules`` (first match wins: a ``condition`` on attributes, a
``value``, an optional ``rollout`` share of units) and a kill switch (``killed = true``: everyone gets
the default). An **experiment** splits units between ``variants`` by weight, inside a ``coverage``
share, optionally in a ``namespace`` slice and behind a ``condition``; ``status = "stopped"`` or a kill
gives everyone the first (control) variant and records no exposure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from glassbox.flags.conditions import check_condition, compile_condition
from glassbox.flags.hashing import bucket_ranges, seed_state

KINDS = ("flag", "experiment")
VALUE_TYPES = ("boolean", "string", "integer", "float", "object")


class DefinitionError(ValueError):
    """A definition that cannot be used: the message names the field and what is expected."""


@dataclass(frozen=True, slots=True)
class Rule:
    value: Any
    condition: dict[str, Any] | None = None
    rollout: float | None = None  # share of matching units that get ``value``; None = all of them
    seed: str | None = None
    matches: Any = field(default=None, compare=False, repr=False)  # the compiled condition, set by __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", compile_condition(self.condition))


@dataclass(frozen=True, slots=True)
class FlagDef:
    name: str
    default: Any = False
    rules: tuple[Rule, ...] = ()
    killed: bool = False
    description: str = ""
    hash_version: int = 2
    seed: str | None = None
    # Per rule, the hash seed (the rule's, else the flag's, else its name) and its FNV state: computed when the
    # definition is loaded, so that a flag's first evaluation hashes only the unit id, like every later one.
    seeds: tuple[tuple[str, int], ...] = field(init=False, compare=False, repr=False)

    kind = "flag"

    def __post_init__(self) -> None:
        seeds = []
        for r in self.rules:
            seed = r.seed or self.seed or self.name
            seeds.append((seed, seed_state(seed)))
        object.__setattr__(self, "seeds", tuple(seeds))

    @property
    def value_type(self) -> str:
        return value_type(self.default)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rules"] = [
            {
                k: v
                for k, v in (("value", r.value), ("condition", r.condition), ("rollout", r.rollout), ("seed", r.seed))
                if v is not None
            }
            for r in self.rules
        ]
        d.pop("seeds", None)
        return d


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    weight: float
    value: Any = None


@dataclass(frozen=True, slots=True)
class ExperimentDef:
    name: str
    variants: tuple[Variant, ...]
    coverage: float = 1.0
    condition: dict[str, Any] | None = None
    namespace: tuple[str, float, float] | None = None
    status: str = "running"  # running | stopped
    killed: bool = False
    seed: str | None = None
    hash_version: int = 2
    description: str = ""
    metrics: tuple[str, ...] = ("success_rate", "avg_quality", "avg_cost_usd", "avg_duration_ms")
    guardrails: tuple[str, ...] = ("error_rate", "avg_cost_usd", "p95_duration_ms")
    correction: str = "holm"  # holm | bh | none
    alpha: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)
    ranges: tuple[tuple[float, float], ...] = field(default=(), compare=False, repr=False)  # set by __post_init__
    # Computed when the definition is loaded (evaluation only looks them up): the hash seed's FNV state, the
    # compiled condition (regexes compiled, semver operands padded) and the namespace's hash seed and slice.
    seed_state: int = field(init=False, compare=False, repr=False)
    matches: Any = field(init=False, compare=False, repr=False)
    namespace_slice: tuple[str, float, float] | None = field(init=False, compare=False, repr=False)

    kind = "experiment"

    def __post_init__(self) -> None:
        # The variants' bucket ranges, computed once: evaluation only looks them up.
        object.__setattr__(self, "ranges", tuple(bucket_ranges(len(self.variants), self.coverage, self.weights)))
        object.__setattr__(self, "seed_state", seed_state(self.seed or self.name))
        object.__setattr__(self, "matches", compile_condition(self.condition))
        ns = self.namespace
        object.__setattr__(
            self, "namespace_slice", None if ns is None else ("__" + str(ns[0]), float(ns[1]), float(ns[2]))
        )

    @property
    def control(self) -> str:
        return self.variants[0].key

    @property
    def weights(self) -> list[float]:
        return [v.weight for v in self.variants]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["variants"] = [asdict(v) for v in self.variants]
        d["namespace"] = list(self.namespace) if self.namespace else None
        d["metrics"], d["guardrails"] = list(self.metrics), list(self.guardrails)
        for key in ("ranges", "seed_state", "matches", "namespace_slice"):
            d.pop(key, None)
        return d


Definition = FlagDef | ExperimentDef


def value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "object"


def _share(value: Any, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DefinitionError(f"{where}: expected a number between 0 and 1, got {value!r}") from None
    if not (0.0 <= x <= 1.0) or math.isnan(x):
        raise DefinitionError(f"{where}: expected a number between 0 and 1, got {value!r}")
    return x


def _condition(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise DefinitionError(f"{where}: expected a table of attribute conditions, got {value!r}")
    try:
        check_condition(value, where)
    except ValueError as exc:
        raise DefinitionError(str(exc)) from None
    return dict(value)


def _bool(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise DefinitionError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _opt_text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise DefinitionError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def _name(raw: Mapping[str, Any], kind: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError(f"{kind}: every {kind} needs a non-empty name")
    return name.strip()


def _hash_version(raw: Mapping[str, Any], where: str) -> int:
    hv = raw.get("hash_version", 2)
    if isinstance(hv, bool) or hv not in (1, 2):
        raise DefinitionError(f"{where}.hash_version: expected 1 or 2, got {hv!r}")
    return int(hv)


def parse_flag(raw: Mapping[str, Any]) -> FlagDef:
    """A FlagDef from a mapping (glassbox.toml ``[[flag]]``, the API's JSON); raises DefinitionError."""
    name = _name(raw, "flag")
    where = f"flag {name!r}"
    known = {
        "name",
        "default",
        "rules",
        "killed",
        "description",
        "hash_version",
        "seed",
        "value",
        "rollout",
        "condition",
        "kind",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DefinitionError(f"{where}: unknown field {unknown[0]!r}; known: {', '.join(sorted(known - {'kind'}))}")
    default = raw.get("default", False)
    rules: list[Rule] = []
    raw_rules = raw.get("rules") or []
    if not isinstance(raw_rules, list):
        raise DefinitionError(f"{where}.rules: expected a list of rules")
    for i, r in enumerate(raw_rules):
        if not isinstance(r, Mapping) or "value" not in r:
            raise DefinitionError(f"{where}.rules[{i}]: each rule needs a value (and optionally condition, rollout)")
        rules.append(
            Rule(
                r["value"],
                _condition(r.get("condition"), f"{where}.rules[{i}].condition"),
                None if r.get("rollout") is None else _share(r["rollout"], f"{where}.rules[{i}].rollout"),
                _opt_text(r, "seed", f"{where}.rules[{i}]"),
            )
        )
    # Shorthand: value/rollout/condition at the top level are one rule.
    if "value" in raw or "rollout" in raw or "condition" in raw:
        value = raw.get("value", True if isinstance(default, bool) else default)
        rollout = None if raw.get("rollout") is None else _share(raw["rollout"], f"{where}.rollout")
        rules.append(Rule(value, _condition(raw.get("condition"), f"{where}.condition"), rollout))
    for i, r in enumerate(rules):
        if value_type(r.value) != value_type(default) and {value_type(r.value), value_type(default)} != {
            "integer",
            "float",
        }:
            raise DefinitionError(
                f"{where}.rules[{i}].value: {r.value!r} is not of the default's type ({value_type(default)})"
            )
    return FlagDef(
        name,
        default,
        tuple(rules),
        _bool(raw, "killed", where),
        str(raw.get("description") or ""),
        _hash_version(raw, where),
        _opt_text(raw, "seed", where),
    )


def parse_experiment(raw: Mapping[str, Any]) -> ExperimentDef:  # noqa: PLR0915 - one check per field
    """An ExperimentDef from a mapping (glassbox.toml ``[[experiment]]``, the API's JSON); raises DefinitionError"""
    name = _name(raw, "experiment")
    where = f"experiment {name!r}"
    known = {
        "name",
        "variants",
        "weights",
        "coverage",
        "condition",
        "namespace",
        "status",
        "killed",
        "seed",
        "hash_version",
        "description",
        "metrics",
        "guardrails",
        "correction",
        "alpha",
        "kind",
        "extra",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DefinitionError(f"{where}: unknown field {unknown[0]!r}; known: {', '.join(sorted(known - {'kind'}))}")
    raw_variants = raw.get("variants") or ["control", "treatment"]
    if not isinstance(raw_variants, Sequence) or isinstance(raw_variants, str) or len(raw_variants) < 2:
        raise DefinitionError(f"{where}.variants: expected at least two variants")
    weights = raw.get("weights")
    variants: list[Variant] = []
    for i, v in enumerate(raw_variants):
        if isinstance(v, str):
            key, weight, value = v, None, v
        elif isinstance(v, Mapping) and isinstance(v.get("key"), str):
            key, weight, value = v["key"], v.get("weight"), v.get("value", v["key"])
        else:
            raise DefinitionError(f"{where}.variants[{i}]: expected a key or a table with key (and weight, value)")
        if weights is not None:
            if not isinstance(weights, Sequence) or len(weights) != len(raw_variants):
                raise DefinitionError(f"{where}.weights: expected one weight per variant")
            weight = weights[i]
        variants.append(
            Variant(key, -1.0 if weight is None else _share(weight, f"{where}.variants[{i}].weight"), value)
        )
    keys = [v.key for v in variants]
    if len(set(keys)) != len(keys):
        raise DefinitionError(f"{where}.variants: variant keys must be unique, got {keys}")
    if all(v.weight < 0 for v in variants):
        variants = [Variant(v.key, 1.0 / len(variants), v.value) for v in variants]
    elif any(v.weight < 0 for v in variants) or abs(sum(v.weight for v in variants) - 1.0) > 0.01:
        raise DefinitionError(
            f"{where}: variant weights must all be given and sum to 1, got {[v.weight for v in variants]}"
        )
    ns = raw.get("namespace")
    namespace = None
    if ns is not None:
        if not (isinstance(ns, Sequence) and not isinstance(ns, str) and len(ns) == 3 and isinstance(ns[0], str)):
            raise DefinitionError(f'{where}.namespace: expected [name, start, end], e.g. ["prompts", 0, 0.5]')
        lo, hi = _share(ns[1], f"{where}.namespace start"), _share(ns[2], f"{where}.namespace end")
        if lo >= hi:
            raise DefinitionError(f"{where}.namespace: start must be below end, got {lo} >= {hi}")
        namespace = (ns[0], lo, hi)
    status = raw.get("status", "running")
    if status not in ("running", "stopped"):
        raise DefinitionError(f"{where}.status: expected running or stopped, got {status!r}")
    correction = raw.get("correction", "holm")
    if correction not in ("holm", "bh", "none"):
        raise DefinitionError(f"{where}.correction: expected holm, bh or none, got {correction!r}")
    alpha = raw.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise DefinitionError(f"{where}.alpha: expected a number in (0, 0.5), got {alpha!r}")
    kw: dict[str, Any] = {}
    for key in ("metrics", "guardrails"):
        if key in raw:
            vals = raw[key]
            if not isinstance(vals, Sequence) or isinstance(vals, str):
                raise DefinitionError(f"{where}.{key}: expected a list of metric names")
            kw[key] = tuple(str(m) for m in vals)
    extra = raw.get("extra") or {}
    if not isinstance(extra, Mapping):
        raise DefinitionError(f"{where}.extra: expected a table")
    return ExperimentDef(
        name,
        tuple(variants),
        _share(raw.get("coverage", 1.0), f"{where}.coverage"),
        _condition(raw.get("condition"), f"{where}.condition"),
        namespace,
        status,
        _bool(raw, "killed", where),
        _opt_text(raw, "seed", where),
        _hash_version(raw, where),
        str(raw.get("description") or ""),
        correction=correction,
        alpha=float(alpha),
        extra=dict(extra),
        **kw,
    )


def parse(kind: str, raw: Mapping[str, Any]) -> Definition:
    if kind == "flag":
        return parse_flag(raw)
    if kind == "experiment":
        return parse_experiment(raw)
    raise DefinitionError(f"kind: expected flag or experiment, got {kind!r}")
