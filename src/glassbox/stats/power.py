"""Sample size and power of two-sample tests: proportions (normal, Cohen's h) and means (t, Cohen's d).

The power functions are statsmodels' ``NormalIndPower``/``TTestIndPower`` formulas (two-sided power counts
both tails); sample sizes solve them for ``nobs1`` (the control group; the treatment has ``ratio * nobs1``).
"""

from __future__ import annotations

import math

__all__ = ["cohens_h", "power_means", "power_proportions", "sample_size_means", "sample_size_proportions"]

_ALTERNATIVES = ("two-sided", "larger", "smaller")


def _check(alpha: float, alternative: str, ratio: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, got {alternative!r}")
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0, got {ratio!r}")


def cohens_h(p_a: float, p_b: float) -> float:
    """Effect size of two proportions: 2 asin(sqrt(p_b)) - 2 asin(sqrt(p_a)) (statsmodels' proportion_effectsize)."""
    for name, p in (("baseline rate", p_a), ("target rate", p_b)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {p!r}")
    return 2.0 * math.asin(math.sqrt(p_b)) - 2.0 * math.asin(math.sqrt(p_a))


def _normal_power(d: float, nobs1: float, alpha: float, ratio: float, alternative: str) -> float:
    from scipy import stats

    nobs = 1.0 / (1.0 / nobs1 + 1.0 / (nobs1 * ratio))
    a = alpha / 2.0 if alternative == "two-sided" else alpha
    shift = d * math.sqrt(nobs)
    power = 0.0
    if alternative in ("two-sided", "larger"):
        power += float(stats.norm.sf(stats.norm.isf(a) - shift))
    if alternative in ("two-sided", "smaller"):
        power += float(stats.norm.cdf(stats.norm.ppf(a) - shift))
    return power


def _t_power(d: float, nobs1: float, alpha: float, ratio: float, alternative: str) -> float:
    from scipy import stats

    nobs2 = nobs1 * ratio
    df = nobs1 + nobs2 - 2.0
    nobs = 1.0 / (1.0 / nobs1 + 1.0 / nobs2)
    a = alpha / 2.0 if alternative == "two-sided" else alpha
    nc = d * math.sqrt(nobs)
    power = 0.0
    if alternative in ("two-sided", "larger"):
        power += float(stats.nct.sf(stats.t.isf(a, df), df, nc))
    if alternative in ("two-sided", "smaller"):
        power += float(stats.nct.cdf(stats.t.ppf(a, df), df, nc))
    return power


def _solve(
    power_fn: object, d: float, power: float, alpha: float, ratio: float, alternative: str, lowest: float
) -> float:
    from scipy.optimize import brentq

    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be between 0 and 1, got {power!r}")
    if d == 0.0:
        raise ValueError("the minimum detectable effect must not be 0")
    f = power_fn  # type: ignore[assignment]
    hi = 10.0
    while f(d, hi, alpha, ratio, alternative) < power:  # type: ignore[operator]
        hi *= 2.0
        if hi > 1e13:
            raise ValueError("the effect is too small to detect with any practical sample size")
    lo = lowest
    if f(d, lo, alpha, ratio, alternative) >= power:  # type: ignore[operator]
        return lo
    return float(brentq(lambda n: f(d, n, alpha, ratio, alternative) - power, lo, hi, xtol=1e-12, rtol=1e-14))  # type: ignore[operator]


def power_proportions(
    baseline_rate: float,
    target_rate: float,
    nobs1: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Power to detect ``baseline_rate`` -> ``target_rate`` with ``nobs1`` control units (NormalIndPower)."""
    _check(alpha, alternative, ratio)
    return _normal_power(cohens_h(baseline_rate, target_rate), float(nobs1), alpha, ratio, alternative)


def sample_size_proportions(
    baseline_rate: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    *,
    relative: bool = False,
    alternative: str = "two-sided",
) -> float:
    """Control units needed to detect a change of ``mde`` in a rate (absolute, or relative to the baseline when
    ``relative``); the treatment needs ``ratio`` times as many. Not rounded (round up to use it)."""
    _check(alpha, alternative, ratio)
    if not 0.0 < baseline_rate < 1.0:
        raise ValueError(f"baseline rate must be between 0 and 1, got {baseline_rate!r}")
    target = baseline_rate * (1.0 + mde) if relative else baseline_rate + mde
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"baseline {baseline_rate!r} with mde {mde!r} gives a rate of {target!r}, outside 0..1")
    d = cohens_h(baseline_rate, target)
    if alternative == "smaller":
        d = -abs(d) if d else d
    return _solve(_normal_power, d, power, alpha, ratio, alternative, 1e-6)


def power_means(
    mde: float, sd: float, nobs1: float, alpha: float = 0.05, ratio: float = 1.0, alternative: str = "two-sided"
) -> float:
    """Power of Welch/Student's t to detect a mean difference ``mde`` with standard deviation ``sd`` (TTestIndPower)."""
    _check(alpha, alternative, ratio)
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    return _t_power(mde / sd, float(nobs1), alpha, ratio, alternative)


def sample_size_means(
    mde: float, sd: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0, alternative: str = "two-sided"
) -> float:
    """Control units needed to detect a mean difference ``mde`` (TTestIndPower.solve_power with d = mde / sd)."""
    _check(alpha, alternative, ratio)
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    # t needs df = n1 + n2 - 2 > 0.
    return _solve(_t_power, mde / sd, power, alpha, ratio, alternative, 1.0 + 1.0 / ratio + 1e-9)
