"""Local evaluation: a flag's value or an experiment's variant for one unit, with the reason (OpenFeature's).

Pure and fast (a hash and a few comparisons, no I/O): safe on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from glassbox.flags.conditions import eval_condition
from glassbox.flags.definitions import ExperimentDef, FlagDef
from glassbox.flags.hashing import bucket, bucket_ranges, choose_variation, in_namespace

# OpenFeature's reason strings (openfeature.flag_evaluation.Reason values).
TARGETING_MATCH = "TARGETING_MATCH"
SPLIT = "SPLIT"
DEFAULT = "DEFAULT"
DISABLED = "DISABLED"
ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a unit gets: ``value``, the ``variant`` key, why (``reason``), and whether it is in the experiment."""

    value: Any
    variant: str | None
    reason: str
    in_experiment: bool = False
    bucket: float | None = None
    error: str | None = None


@lru_cache(maxsize=1024)
def _ranges(n: int, coverage: float, weights: tuple[float, ...]) -> list[tuple[float, float]]:
    return bucket_ranges(n, coverage, weights)


def evaluate_flag(flag: FlagDef, unit_id: str | None, attributes: Mapping[str, Any] | None = None) -> Resolution:
    """The flag's value for the unit: the first rule whose condition matches and whose rollout holds the unit."""
    if flag.killed:
        return Resolution(flag.default, "default", DISABLED)
    attrs = attributes or {}
    for i, rule in enumerate(flag.rules):
        if rule.condition and not eval_condition(attrs, rule.condition):
            continue
        if rule.rollout is not None:
            if unit_id is None or rule.rollout <= 0.0:
                continue
            n = bucket(rule.seed or flag.seed or flag.name, str(unit_id), flag.hash_version)
            if n is None or n >= rule.rollout:
                continue
            return Resolution(rule.value, f"rule-{i}", SPLIT, bucket=n)
        return Resolution(rule.value, f"rule-{i}", TARGETING_MATCH)
    return Resolution(flag.default, "default", DEFAULT)


def assign_variant(exp: ExperimentDef, unit_id: str | None, attributes: Mapping[str, Any] | None = None) -> Resolution:
    """The unit's variant. Outside the experiment (stopped, killed, condition, namespace, coverage) it is the control,
    with ``in_experiment`` False so no exposure is recorded."""
    control = exp.variants[0]
    if exp.killed or exp.status != "running":
        return Resolution(control.value, control.key, DISABLED)
    if unit_id is None or unit_id == "":
        return Resolution(control.value, control.key, ERROR, error="no unit id to bucket on")
    uid = str(unit_id)
    if exp.condition and not eval_condition(attributes or {}, exp.condition):
        return Resolution(control.value, control.key, DEFAULT)
    if exp.namespace is not None and not in_namespace(uid, exp.namespace):
        return Resolution(control.value, control.key, DEFAULT)
    n = bucket(exp.seed or exp.name, uid, exp.hash_version)
    if n is None:
        return Resolution(control.value, control.key, ERROR, error=f"unknown hash version {exp.hash_version}")
    i = choose_variation(n, _ranges(len(exp.variants), exp.coverage, tuple(exp.weights)))
    if i < 0:
        return Resolution(control.value, control.key, DEFAULT, bucket=n)
    v = exp.variants[i]
    return Resolution(v.value, v.key, SPLIT, in_experiment=True, bucket=n)
