"""GrowthBook's cross-SDK golden vectors (tests/fixtures/growthbook_cases.json, source named in its _source key)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glassbox.flags.conditions import compile_condition, eval_condition
from glassbox.flags.hashing import bucket, bucket_ranges, choose_variation, in_namespace

CASES = json.loads((Path(__file__).parents[2] / "fixtures" / "growthbook_cases.json").read_text())


def test_fixture_names_its_source() -> None:
    src = CASES["_source"]
    assert src["repo"] == "growthbook/growthbook-python" and src["path"] == "tests/cases.json"
    assert len(src["commit"]) == 40


@pytest.mark.parametrize(("seed", "value", "version", "expected"), CASES["hash"])
def test_hash(seed: str, value: str, version: int, expected: float | None) -> None:
    assert bucket(seed, value, version) == expected


@pytest.mark.parametrize(
    ("name", "args", "expected"), CASES["getBucketRange"], ids=[c[0] for c in CASES["getBucketRange"]]
)
def test_bucket_ranges(name: str, args: list, expected: list) -> None:
    got = bucket_ranges(args[0], args[1], args[2])
    assert len(got) == len(expected)
    for (lo, hi), (elo, ehi) in zip(got, expected, strict=True):
        assert lo == pytest.approx(elo, abs=1e-12) and hi == pytest.approx(ehi, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "n", "ranges", "expected"), CASES["chooseVariation"], ids=[c[0] for c in CASES["chooseVariation"]]
)
def test_choose_variation(name: str, n: float, ranges: list, expected: int) -> None:
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(
    ("name", "unit", "namespace", "expected"), CASES["inNamespace"], ids=[c[0] for c in CASES["inNamespace"]]
)
def test_in_namespace(name: str, unit: str, namespace: list, expected: bool) -> None:
    assert in_namespace(unit, namespace) is expected


@pytest.mark.parametrize("case", CASES["evalCondition"], ids=[c[0] for c in CASES["evalCondition"]])
def test_eval_condition(case: list) -> None:
    # Every vector of the section runs: glassbox implements each operator the file uses.
    name, condition, attributes, expected = case[:4]
    groups = case[4] if len(case) > 4 else None
    assert eval_condition(attributes, condition, groups) is expected, name
    if groups is None:  # the compiled form (used by flag rules) answers the same
        assert compile_condition(condition)(attributes) is expected, name
