"""Flag evaluation and experiment assignment: rules, rollouts, kill switch, defaults, stability, uniformity."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassbox.flags.client import FlagClient
from glassbox.flags.definitions import DefinitionError, parse_experiment, parse_flag
from glassbox.flags.evaluate import assign_variant, evaluate_flag


def test_rules_first_match_then_default() -> None:
    flag = parse_flag(
        {
            "name": "model",
            "default": "small",
            "rules": [
                {"condition": {"plan": "pro"}, "value": "large"},
                {"condition": {"app_version": {"$vgte": "2.0.0"}}, "value": "medium"},
            ],
        }
    )
    assert evaluate_flag(flag, "u1", {"plan": "pro"}).value == "large"
    assert evaluate_flag(flag, "u1", {"plan": "pro"}).reason == "TARGETING_MATCH"
    assert evaluate_flag(flag, "u1", {"app_version": "2.1.0"}).value == "medium"
    r = evaluate_flag(flag, "u1", {"app_version": "1.9.9"})
    assert (r.value, r.reason, r.variant) == ("small", "DEFAULT", "default")


def test_percentage_rollout_share_and_kill_switch() -> None:
    flag = parse_flag({"name": "new-retriever", "default": False, "rollout": 0.25})
    on = sum(evaluate_flag(flag, f"user-{i}").value for i in range(20000))
    assert 0.235 < on / 20000 < 0.265
    assert {evaluate_flag(flag, f"user-{i}").reason for i in range(100)} == {"SPLIT", "DEFAULT"}
    killed = parse_flag({"name": "new-retriever", "default": False, "rollout": 1.0, "killed": True})
    r = evaluate_flag(killed, "user-1")
    assert (r.value, r.reason) == (False, "DISABLED")


def test_missing_flag_gives_the_callers_default() -> None:
    client = FlagClient(toml_path=None)
    assert client.flag("nope", "u1", default=7) == 7
    assert client.resolve_flag("nope", "u1", 7).error == "FLAG_NOT_FOUND"
    assert client.variant("nope", "u1") is None


def test_experiment_weights_coverage_namespace_condition_and_stop() -> None:
    exp = parse_experiment(
        {"name": "prompt-v2", "variants": [{"key": "control", "weight": 0.3}, {"key": "concise", "weight": 0.7}]}
    )
    keys = [assign_variant(exp, f"u{i}").variant for i in range(20000)]
    assert 0.28 < keys.count("control") / 20000 < 0.32
    half = parse_experiment({"name": "p", "coverage": 0.5})
    inside = sum(assign_variant(half, f"u{i}").in_experiment for i in range(20000))
    assert 0.48 < inside / 20000 < 0.52
    a = parse_experiment({"name": "a", "namespace": ["prompts", 0, 0.5]})
    b = parse_experiment({"name": "b", "namespace": ["prompts", 0.5, 1]})
    for i in range(2000):  # mutually exclusive: no unit is in both
        assert not (assign_variant(a, f"u{i}").in_experiment and assign_variant(b, f"u{i}").in_experiment)
    gated = parse_experiment({"name": "g", "condition": {"country": {"$in": ["US", "CA"]}}})
    assert not assign_variant(gated, "u1", {"country": "FR"}).in_experiment
    stopped = parse_experiment({"name": "s", "status": "stopped"})
    r = assign_variant(stopped, "u1")
    assert (r.variant, r.reason, r.in_experiment) == ("control", "DISABLED", False)


@settings(max_examples=200, deadline=None)
@given(unit=st.text(min_size=1, max_size=40), seed=st.text(max_size=20))
def test_assignment_is_a_pure_function_of_seed_and_unit(unit: str, seed: str) -> None:
    exp = parse_experiment({"name": "e", "seed": seed or None, "variants": ["a", "b", "c"]})
    first = assign_variant(exp, unit)
    assert first.variant in ("a", "b", "c")
    assert assign_variant(exp, unit) == first
    assert 0.0 <= (first.bucket or 0.0) < 1.0


def test_sticky_across_processes() -> None:
    code = (
        "from glassbox.flags.definitions import parse_experiment; from glassbox.flags.evaluate import "
        "assign_variant; e = parse_experiment({'name': 'sticky', 'variants': ['a', 'b', 'c']}); "
        "print(','.join(assign_variant(e, f'u{i}').variant for i in range(50)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    exp = parse_experiment({"name": "sticky", "variants": ["a", "b", "c"]})
    assert out == ",".join(assign_variant(exp, f"u{i}").variant for i in range(50))


def test_buckets_are_uniform() -> None:
    from scipy import stats

    exp = parse_experiment({"name": "uniform", "variants": ["a", "b"]})
    buckets = [assign_variant(exp, f"unit-{i}").bucket for i in range(10000)]
    assert stats.kstest(buckets, "uniform").pvalue > 0.001


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x", "rollout": 2}, "between 0 and 1"),
        ({"name": "x", "default": "a", "rules": [{"value": 3}]}, "not of the default's type"),
        ({"name": "x", "rules": [{"condition": {"a": {"$bogus": 1}}, "value": True}]}, "unknown operator '\\$bogus'"),
        ({"name": "x", "colour": "red"}, "unknown field 'colour'"),
        ({"default": True}, "non-empty name"),
    ],
)
def test_bad_flag_definitions(raw: dict, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        parse_flag(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x", "variants": ["a"]}, "at least two"),
        ({"name": "x", "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.6}]}, "sum to 1"),
        ({"name": "x", "variants": ["a", "a"]}, "unique"),
        ({"name": "x", "namespace": ["n", 0.6, 0.2]}, "start must be below end"),
        ({"name": "x", "correction": "bonferroni"}, "holm, bh or none"),
    ],
)
def test_bad_experiment_definitions(raw: dict, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        parse_experiment(raw)
