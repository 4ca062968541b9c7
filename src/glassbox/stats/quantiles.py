"""Distribution-free confidence intervals for quantiles (order statistics and the binomial distribution).

For n sorted values the number of them below the true q-quantile is Binomial(n, q), so the order
statistics x_(l) and x_(u) with ``l = binom.ppf(alpha/2)`` and ``u = binom.ppf(1 - alpha/2) + 1``
bracket it with probability at least ``confidence`` (Conover, *Practical Nonparametric Statistics*,
3rd ed., section 3.2). Used to judge a change of p95 latency without resampling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["quantile_ci"]


def quantile_ci(
    values: Sequence[float] | np.ndarray, q: float, confidence: float = 0.95, *, presorted: bool = False
) -> tuple[float, float, float]:
    """(the sample q-quantile, its CI low, its CI high), ``q`` in 0..1; NaNs when there are no values.

    Where the sample is too small for the level, the interval reaches the sample's extremes.
    """
    import numpy as np

    from glassbox.stats._dist import binom_ppf

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if not presorted:
        arr = np.sort(arr)
    n = arr.size
    if n == 0:
        return math.nan, math.nan, math.nan
    alpha = 1.0 - confidence
    lo_rank = int(binom_ppf(alpha / 2.0, n, q))  # 1-based rank of the lower end
    hi_rank = int(binom_ppf(1.0 - alpha / 2.0, n, q)) + 1
    lo_rank = min(max(lo_rank, 1), n)
    hi_rank = min(max(hi_rank, 1), n)
    point = float(np.percentile(arr, q * 100.0))
    return point, float(arr[lo_rank - 1]), float(arr[hi_rank - 1])
