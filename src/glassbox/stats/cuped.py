"""CUPED (Deng et al., 2013): remove the part of a metric a pre-period covariate already explains.

``Y' = Y - θ (X - mean(X))`` with ``θ = cov(X, Y) / var(X)`` pooled over both variants (pooling keeps the
adjustment the same for a and b, so the difference of means stays unbiased). The variance shrinks by
``1 - ρ²``; the test on the adjusted values is Welch's t.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from glassbox.stats.results import TestResult

if TYPE_CHECKING:
    import numpy as np

__all__ = ["cuped_adjust", "cuped_test", "cuped_theta"]


def cuped_theta(y: Sequence[float] | np.ndarray, x: Sequence[float] | np.ndarray) -> float:
    """The regression slope of the metric on its covariate (0 when the covariate does not vary)."""
    import numpy as np

    ya, xa = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    if ya.shape != xa.shape or ya.size < 2:
        raise ValueError(f"need one covariate per value (>= 2), got {ya.size} values and {xa.size} covariates")
    vx = float(xa.var(ddof=1))
    if vx == 0.0:
        return 0.0
    return float(((xa - xa.mean()) * (ya - ya.mean())).sum() / (xa.size - 1)) / vx


def cuped_adjust(
    y_a: Sequence[float], x_a: Sequence[float], y_b: Sequence[float], x_b: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, float]:
    """Adjusted a and b values and the pooled θ."""
    import numpy as np

    ya, xa, yb, xb = (np.asarray(v, dtype=float) for v in (y_a, x_a, y_b, x_b))
    theta = cuped_theta(np.concatenate([ya, yb]), np.concatenate([xa, xb]))
    mean_x = float(np.concatenate([xa, xb]).mean())
    return ya - theta * (xa - mean_x), yb - theta * (xb - mean_x), theta


def cuped_test(
    y_a: Sequence[float], x_a: Sequence[float], y_b: Sequence[float], x_b: Sequence[float], confidence: float = 0.95
) -> TestResult:
    """Welch's t on CUPED-adjusted values; ``extra`` has θ and the variance reduction achieved."""
    import numpy as np

    from glassbox.stats.twosample import welch_t

    adj_a, adj_b, theta = cuped_adjust(y_a, x_a, y_b, x_b)
    r = welch_t(adj_a, adj_b, confidence)
    raw = np.concatenate([np.asarray(y_a, dtype=float), np.asarray(y_b, dtype=float)])
    adj = np.concatenate([adj_a, adj_b])
    v_raw = float(raw.var(ddof=1))
    reduction = 1.0 - float(adj.var(ddof=1)) / v_raw if v_raw > 0 else math.nan
    return TestResult(
        "cuped_welch_t",
        r.statistic,
        r.p_value,
        r.estimate,
        r.ci_low,
        r.ci_high,
        confidence,
        r.n_a,
        r.n_b,
        {**r.extra, "theta": theta, "variance_reduction": reduction},
    )
