"""Local evaluation: a flag's value or an experiment's variant for one unit, with the reason (OpenFeature's).

Pure and fast (a hash and a few comparisons, no I/O): safe on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from glassbox.flags.conditions import eval_condition
from glassbox.flags.definitions import ExperimentDef, FlagDef
from glassbox.flags.hashing import bucket, in_namespace

# OpenFeature's reason strings (openfeature.flag_evaluation.Reason values).
TARGETING_MATCH = "TARGETING_MATCH"
SPLIT = "SPLIT"
DEFAULT = "DEFAULT"
DISABLED = "DISABLED"
ERROR = "ERROR"


class Resolution(NamedTuple):
    """What a unit gets: ``value``, the ``variant`` key, why (``reason``), and whether it is in the experiment.

    A NamedTuple: built on every evaluation, and a tuple is several times cheaper to make than a dataclass."""

    value: Any
    variant: str | None
    reason: str
    in_experiment: bool = False
    bucket: float | None = None
    error: str | None = None


_new = tuple.__new__  # a Resolution without NamedTuple's Python-level __new__ (7x cheaper per evaluation)
_RULE_KEYS = tuple(f"rule-{i}" for i in range(256))  # variant keys of rules, not formatted per call


def evaluate_flag(flag: FlagDef, unit_id: str | None, attributes: Mapping[str, Any] | None = None) -> Resolution:
    """The flag's value for the unit: the first rule whose condition matches and whose rollout holds the unit."""
    if flag.killed:
        return _new(Resolution, (flag.default, "default", DISABLED, False, None, None))
    attrs = attributes or {}
    for i, rule in enumerate(flag.rules):
        if rule.condition and not rule.matches(attrs):
            continue
        if rule.rollout is not None:
            if unit_id is None or rule.rollout <= 0.0:
                continue
            n = bucket(rule.seed or flag.seed or flag.name, str(unit_id), flag.hash_version)
            if n is None or n >= rule.rollout:
                continue
            key = _RULE_KEYS[i] if i < 256 else f"rule-{i}"
            return _new(Resolution, (rule.value, key, SPLIT, False, n, None))
        key = _RULE_KEYS[i] if i < 256 else f"rule-{i}"
        return _new(Resolution, (rule.value, key, TARGETING_MATCH, False, None, None))
    return _new(Resolution, (flag.default, "default", DEFAULT, False, None, None))


def assign_variant(exp: ExperimentDef, unit_id: str | None, attributes: Mapping[str, Any] | None = None) -> Resolution:
    """The unit's variant. Outside the experiment (stopped, killed, condition, namespace, coverage) it is the control,
    with ``in_experiment`` False so no exposure is recorded."""
    control = exp.variants[0]
    if exp.killed or exp.status != "running":
        return _new(Resolution, (control.value, control.key, DISABLED, False, None, None))
    if unit_id is None or unit_id == "":
        return _new(Resolution, (control.value, control.key, ERROR, False, None, "no unit id to bucket on"))
    uid = str(unit_id)
    if exp.condition and not eval_condition(attributes or {}, exp.condition):
        return _new(Resolution, (control.value, control.key, DEFAULT, False, None, None))
    if exp.namespace is not None and not in_namespace(uid, exp.namespace):
        return _new(Resolution, (control.value, control.key, DEFAULT, False, None, None))
    n = bucket(exp.seed or exp.name, uid, exp.hash_version)
    if n is None:
        error = f"unknown hash version {exp.hash_version}"
        return _new(Resolution, (control.value, control.key, ERROR, False, None, error))
    for i, (lo, hi) in enumerate(exp.ranges):  # choose_variation, inlined: this is the hot path
        if lo <= n < hi:
            v = exp.variants[i]
            return _new(Resolution, (v.value, v.key, SPLIT, True, n, None))
    return _new(Resolution, (control.value, control.key, DEFAULT, False, n, None))
