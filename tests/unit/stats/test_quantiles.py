"""Order-statistic confidence intervals for quantiles (Conover 3.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassbox.stats.quantiles import quantile_ci


def test_median_of_100_uses_the_40th_and_61st_values():
    # The textbook case: for n = 100 the 95 % interval of the median runs from x(40) to x(61).
    values = np.arange(1.0, 101.0)
    point, low, high = quantile_ci(values[::-1], 0.5, 0.95)
    assert (point, low, high) == (50.5, 40.0, 61.0)


def test_coverage_is_at_least_the_confidence():
    rng = np.random.default_rng(4)
    true_p95 = math.exp(0.5 * 1.6448536269514722)  # lognormal(0, 0.5)
    hits = 0
    for _ in range(400):
        _, low, high = quantile_ci(rng.lognormal(0, 0.5, 300), 0.95, 0.9)
        hits += low <= true_p95 <= high
    assert hits / 400 >= 0.86  # >= 90 % in expectation; 400 draws leave a few points of noise


def test_small_samples_and_bad_input():
    assert quantile_ci([3.0], 0.5) == (3.0, 3.0, 3.0)
    assert all(math.isnan(v) for v in quantile_ci([], 0.5))
    with pytest.raises(ValueError, match="q must be"):
        quantile_ci([1, 2], 95)
    with pytest.raises(ValueError, match="confidence"):
        quantile_ci([1, 2], 0.5, 1.5)
