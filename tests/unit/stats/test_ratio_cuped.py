"""Delta method (ratio metrics, relative lift) and CUPED, against independent formulations and statsmodels OLS."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from glassbox.stats.cuped import cuped_adjust, cuped_test, cuped_theta
from glassbox.stats.ratio import ratio_mean_var, ratio_test, relative_lift
from glassbox.stats.twosample import welch_t


def _delta_by_gradient(x: np.ndarray, y: np.ndarray) -> float:
    """g' Σ g / n with g the gradient of mean(x)/mean(y): the matrix form of the same delta method."""
    g = np.array([1 / y.mean(), -x.mean() / y.mean() ** 2])
    return float(g @ np.cov(np.vstack([x, y]), ddof=1) @ g / x.size)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 500))
def test_ratio_variance_equals_matrix_delta_method(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    den = rng.uniform(0.5, 3.0, n)
    num = 2 * den + rng.normal(0, 1, n)
    r, v, units = ratio_mean_var(num, den)
    assert units == n
    assert r == pytest.approx(num.mean() / den.mean(), rel=1e-12)
    assert v == pytest.approx(_delta_by_gradient(num, den), rel=1e-9)


def test_ratio_test_absolute_and_relative() -> None:
    rng = np.random.default_rng(1)
    da, db = rng.uniform(1, 2, 4000), rng.uniform(1, 2, 4000)
    na, nb = 0.5 * da + rng.normal(0, 0.2, 4000), 0.6 * db + rng.normal(0, 0.2, 4000)
    ra, va, _ = ratio_mean_var(na, da)
    rb, vb, _ = ratio_mean_var(nb, db)
    ab = ratio_test(na, da, nb, db)
    assert ab.estimate == pytest.approx(rb - ra, rel=1e-12)
    assert ab.extra["se"] == pytest.approx(np.sqrt(va + vb), rel=1e-12)
    rel = ratio_test(na, da, nb, db, relative=True)
    assert rel.estimate == pytest.approx(rb / ra - 1, rel=1e-12)
    # gbstats' relative variance: Vb/ra^2 + Va rb^2/ra^4
    assert rel.extra["se"] ** 2 == pytest.approx(vb / ra**2 + va * rb**2 / ra**4, rel=1e-12)
    assert rel.ci_low < 0.2 < rel.ci_high and rel.p_value < 1e-6


def test_relative_lift_covers_its_true_value() -> None:
    # Coverage over many seeded replications stays near the nominal 95%.
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(400):
        a, b = rng.normal(10, 3, 300), rng.normal(11, 3, 300)
        r = relative_lift(a, b)
        hits += r.ci_low <= 0.1 <= r.ci_high
    assert 0.92 <= hits / 400 <= 0.98


def test_cuped_theta_is_the_ols_slope_and_the_test_is_welch_on_adjusted_values() -> None:
    rng = np.random.default_rng(5)
    xa, xb = rng.normal(50, 10, 1000), rng.normal(50, 10, 1000)
    ya, yb = 0.8 * xa + rng.normal(0, 5, 1000), 0.8 * xb + 1.0 + rng.normal(0, 5, 1000)
    x, y = np.concatenate([xa, xb]), np.concatenate([ya, yb])
    slope = sm.OLS(y, sm.add_constant(x)).fit().params[1]
    assert cuped_theta(y, x) == pytest.approx(slope, rel=1e-9)
    adj_a, adj_b, _theta = cuped_adjust(ya, xa, yb, xb)
    r = cuped_test(ya, xa, yb, xb)
    w = welch_t(adj_a, adj_b)
    assert (r.statistic, r.p_value, r.ci_low, r.ci_high) == pytest.approx(
        (w.statistic, w.p_value, w.ci_low, w.ci_high), abs=1e-12
    )
    # Variance shrinks by rho^2 and the interval is much narrower than without the covariate.
    rho = np.corrcoef(x, y)[0, 1]
    assert r.extra["variance_reduction"] == pytest.approx(rho**2, rel=1e-9)
    raw = welch_t(ya, yb)
    assert (r.ci_high - r.ci_low) < 0.6 * (raw.ci_high - raw.ci_low)
    assert r.ci_low < 1.0 < r.ci_high
