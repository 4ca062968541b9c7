"""Sample size and power against statsmodels' NormalIndPower / TTestIndPower."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from glassbox.stats.power import (
    cohens_h,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize(
    ("p_a", "p_b", "n", "ratio"), [(0.1, 0.12, 3000, 1.0), (0.5, 0.45, 800, 2.0), (0.02, 0.03, 10000, 0.5)]
)
def test_power_proportions_equals_normal_ind_power(
    p_a: float, p_b: float, n: int, ratio: float, alternative: str
) -> None:
    h = proportion_effectsize(p_b, p_a)
    assert cohens_h(p_a, p_b) == pytest.approx(h, abs=1e-12)
    expected = NormalIndPower().power(effect_size=h, nobs1=n, alpha=0.05, ratio=ratio, alternative=alternative)
    assert power_proportions(p_a, p_b, n, 0.05, ratio, alternative) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize(("mde", "sd", "n", "ratio"), [(0.2, 1.0, 100, 1.0), (5.0, 30.0, 400, 1.5), (1, 2, 10, 1)])
def test_power_means_equals_ttest_ind_power(mde: float, sd: float, n: int, ratio: float, alternative: str) -> None:
    expected = TTestIndPower().power(effect_size=mde / sd, nobs1=n, alpha=0.05, ratio=ratio, alternative=alternative)
    assert power_means(mde, sd, n, 0.05, ratio, alternative) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    base=st.floats(0.02, 0.9),
    mde=st.floats(0.01, 0.08),
    power=st.floats(0.6, 0.95),
    ratio=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_sample_size_proportions_solves_statsmodels_power(base: float, mde: float, power: float, ratio: float) -> None:
    n = sample_size_proportions(base, mde, 0.05, power, ratio)
    h = proportion_effectsize(base + mde, base) if base + mde <= 1 else None
    if h is None:
        return
    # Our n gives statsmodels' power exactly the target, and agrees with statsmodels' own solver.
    assert NormalIndPower().power(h, n, 0.05, ratio) == pytest.approx(power, abs=1e-9)
    sm = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=power, ratio=ratio)
    assert n == pytest.approx(sm, rel=1e-6)


def test_sample_size_means_solves_ttest_ind_power() -> None:
    for mde, sd, power in [(0.5, 1.0, 0.8), (2.0, 10.0, 0.9), (3.0, 4.0, 0.7)]:
        n = sample_size_means(mde, sd, power=power)
        assert TTestIndPower().power(mde / sd, n, 0.05) == pytest.approx(power, abs=1e-9)
        assert n == pytest.approx(TTestIndPower().solve_power(mde / sd, alpha=0.05, power=power), rel=1e-6)


def test_relative_mde_and_worked_example() -> None:
    # 10% baseline, +2 points absolute == +20% relative; the classic ~3,841 per group at 80% power.
    a = sample_size_proportions(0.10, 0.02)
    assert a == pytest.approx(sample_size_proportions(0.10, 0.20, relative=True), rel=1e-12)
    assert 3830 < a < 3850


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline_rate": 1.2, "mde": 0.1}, "between 0 and 1"),
        ({"baseline_rate": 0.95, "mde": 0.1}, "outside 0..1"),
        ({"baseline_rate": 0.1, "mde": 0.0}, "must not be 0"),
        ({"baseline_rate": 0.1, "mde": 0.01, "alpha": 0}, "alpha"),
        ({"baseline_rate": 0.1, "mde": 0.01, "power": 1.0}, "power"),
    ],
)
def test_bad_input_is_a_precise_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample_size_proportions(**kwargs)
