"""Ratio metrics and relative lift by the delta method (the formulas GrowthBook's gbstats uses).

A ratio metric is ``sum(numerator) / sum(denominator)`` over a variant's units (cost per successful run:
cost over successes; quality per dollar: quality over cost). Per-unit numerators and denominators are
correlated, so the variance of the ratio is the delta method's

    Var(R) ≈ (1/n) [ σx²/μy² - 2 σxy μx/μy³ + μx² σy²/μy⁴ ]

Relative lift of b over a, ``μb/μa - 1``, has variance ``Vb/μa² + Va μb²/μa⁴`` with ``V`` each mean's
variance (independent samples). Intervals are normal (the delta method is asymptotic).
"""

# ruff: noqa: RUF002  (math notation in the docstrings)
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from glassbox.stats.results import TestResult

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ratio_mean_var", "ratio_test", "relative_lift", "relative_variance"]


def _arrays(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    a, b = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"numerator and denominator need one value per unit each, got {a.size} and {b.size}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def ratio_mean_var(
    numerator: Sequence[float] | np.ndarray, denominator: Sequence[float] | np.ndarray
) -> tuple[float, float, int]:
    """(ratio, variance of the ratio, units) for per-unit numerators and denominators (delta method)."""
    x, y = _arrays(numerator, denominator)
    n = int(x.size)
    if n < 2:
        return math.nan, math.nan, n
    mx, my = float(x.mean()), float(y.mean())
    if my == 0.0:
        return math.nan, math.nan, n
    vx, vy = float(x.var(ddof=1)), float(y.var(ddof=1))
    cxy = float(((x - mx) * (y - my)).sum() / (n - 1))
    var = (vx / my**2 - 2.0 * cxy * mx / my**3 + mx**2 * vy / my**4) / n
    return mx / my, max(var, 0.0), n


def relative_variance(mean_a: float, var_a: float, mean_b: float, var_b: float) -> float:
    """Delta-method variance of ``mean_b / mean_a - 1`` given each mean's variance (gbstats' relative variance)."""
    return var_b / mean_a**2 + var_a * mean_b**2 / mean_a**4


def _z(confidence: float) -> float:
    from scipy import stats

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _result(
    method: str, estimate: float, var: float, confidence: float, n_a: int, n_b: int, extra: dict[str, float]
) -> TestResult:
    from scipy import stats

    z_crit = _z(confidence)
    if math.isnan(estimate) or math.isnan(var):
        nan = math.nan
        return TestResult(method, nan, nan, estimate, nan, nan, confidence, n_a, n_b, extra)
    se = math.sqrt(var)
    if se == 0.0:
        return TestResult(
            method, math.nan, math.nan, estimate, estimate, estimate, confidence, n_a, n_b, {**extra, "se": 0.0}
        )
    z = estimate / se
    p = float(2.0 * stats.norm.sf(abs(z)))
    return TestResult(
        method,
        z,
        p,
        estimate,
        estimate - z_crit * se,
        estimate + z_crit * se,
        confidence,
        n_a,
        n_b,
        {**extra, "se": se},
    )


def ratio_test(
    num_a: Sequence[float] | np.ndarray,
    den_a: Sequence[float] | np.ndarray,
    num_b: Sequence[float] | np.ndarray,
    den_b: Sequence[float] | np.ndarray,
    *,
    relative: bool = False,
    confidence: float = 0.95,
) -> TestResult:
    """Difference (``R_b - R_a``) or relative lift (``R_b / R_a - 1``) of a ratio metric, with a delta-method CI."""
    ra, va, n_a = ratio_mean_var(num_a, den_a)
    rb, vb, n_b = ratio_mean_var(num_b, den_b)
    extra = {"ratio_a": ra, "ratio_b": rb}
    if relative:
        if not ra:
            return _result("ratio_relative_delta", math.nan, math.nan, confidence, n_a, n_b, extra)
        return _result(
            "ratio_relative_delta", rb / ra - 1.0, relative_variance(ra, va, rb, vb), confidence, n_a, n_b, extra
        )
    return _result("ratio_delta", rb - ra, va + vb, confidence, n_a, n_b, extra)


def relative_lift(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> TestResult:
    """Relative lift of b's mean over a's, ``mean_b / mean_a - 1``, with its delta-method CI."""
    import numpy as np

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    n_a, n_b = int(x.size), int(y.size)
    if n_a < 2 or n_b < 2 or float(x.mean()) == 0.0:
        return _result("relative_lift_delta", math.nan, math.nan, confidence, n_a, n_b, {})
    ma, mb = float(x.mean()), float(y.mean())
    va, vb = float(x.var(ddof=1)) / n_a, float(y.var(ddof=1)) / n_b
    return _result(
        "relative_lift_delta",
        mb / ma - 1.0,
        relative_variance(ma, va, mb, vb),
        confidence,
        n_a,
        n_b,
        {"mean_a": ma, "mean_b": mb},
    )
