"""Always-valid inference: an asymptotic confidence sequence for a difference of means, safe to peek at.

A fixed-horizon CI is valid at one pre-planned look; checked after every batch it "finds" effects that are
not there. The asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas
("Time-uniform central limit theory and asymptotic confidence sequences", 2023; Howard et al.'s normal
mixture boundary) holds at every sample size at once. As in GrowthBook's sequential testing, the
half-width for N units (both variants), per-unit variance s² = N·Var(estimate) and tuning ρ is

    s · sqrt( 2 (N ρ² + 1) / (N² ρ²) · log( sqrt(N ρ² + 1) / α ) )

ρ is chosen to make the sequence tightest at a planned ``tuning`` sample size (GrowthBook's default 5000):
ρ = sqrt( (-2 log α + log(-2 log α + 1)) / tuning ). The price of peeking freely is a wider interval.
"""

# ruff: noqa: RUF002  (math notation in the docstrings)
from __future__ import annotations

import math

from glassbox.stats.results import TestResult

__all__ = ["DEFAULT_TUNING", "confidence_sequence", "cs_half_width", "rho_for"]

DEFAULT_TUNING = 5000


def rho_for(tuning: float, alpha: float) -> float:
    """The mixture parameter ρ that minimises the sequence's width at ``tuning`` units."""
    if not tuning > 0:
        raise ValueError(f"tuning sample size must be > 0, got {tuning!r}")
    la = -2.0 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1.0)) / tuning)


def cs_half_width(
    variance_of_estimate: float, n_total: int, alpha: float = 0.05, tuning: float = DEFAULT_TUNING
) -> float:
    """Half-width of the always-valid interval at ``n_total`` units, for an estimate with that variance."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if n_total < 1 or math.isnan(variance_of_estimate):
        return math.nan
    rho = rho_for(tuning, alpha)
    s2 = variance_of_estimate * n_total
    n = float(n_total)
    return math.sqrt(s2) * math.sqrt(
        2.0 * (n * rho**2 + 1.0) / (n**2 * rho**2) * math.log(math.sqrt(n * rho**2 + 1.0) / alpha)
    )


def confidence_sequence(result: TestResult, alpha: float | None = None, tuning: float = DEFAULT_TUNING) -> TestResult:
    """The always-valid version of a fixed-horizon ``result`` (Welch, z, delta method: any estimate with an ``se``
    in ``extra``). ``p_value`` is the always-valid p: the smallest α whose sequence excludes 0."""
    a = (1.0 - result.confidence) if alpha is None else alpha
    se = result.extra.get("se")
    n = result.n_a + result.n_b
    est = result.estimate
    extra = {**result.extra, "fixed_ci": [result.ci_low, result.ci_high], "tuning": tuning, "sequential": True}
    if se is None or math.isnan(se) or se == 0.0 or math.isnan(est):
        return TestResult(
            result.method + "_sequential",
            math.nan,
            math.nan,
            est,
            math.nan,
            math.nan,
            1.0 - a,
            result.n_a,
            result.n_b,
            extra,
        )
    var = se**2
    half = cs_half_width(var, n, a, tuning)
    # Always-valid p: the boundary shrinks monotonically in alpha, so bisect on log alpha.
    if est == 0.0 or cs_half_width(var, n, 1.0 - 1e-12, tuning) >= abs(est):
        p = 1.0
    else:
        lo, hi = 1e-300, 1.0 - 1e-12  # width(lo) > |est| > width(hi)
        if cs_half_width(var, n, lo, tuning) <= abs(est):
            p = lo
        else:
            for _ in range(200):
                mid = math.exp((math.log(lo) + math.log(hi)) / 2.0)  # in log space: lo * hi underflows
                if cs_half_width(var, n, mid, tuning) > abs(est):
                    lo = mid
                else:
                    hi = mid
                if hi / lo < 1 + 1e-12:
                    break
            p = hi
    return TestResult(
        result.method + "_sequential",
        result.statistic,
        p,
        est,
        est - half,
        est + half,
        1.0 - a,
        result.n_a,
        result.n_b,
        extra,
    )
