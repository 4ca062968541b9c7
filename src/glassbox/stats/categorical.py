"""Rates between variants as a contingency table (variants x {success, failure}): the χ² test of independence."""

from __future__ import annotations

from collections.abc import Sequence

from glassbox.stats.results import TestResult

__all__ = ["chi2_contingency_test"]


def chi2_contingency_test(
    table: Sequence[Sequence[float]], *, correction: bool = False, confidence: float = 0.95
) -> TestResult:
    """χ² test of independence over ``table`` (rows: variants; columns: outcome counts), as
    ``scipy.stats.chi2_contingency(table, correction=correction)``. Without Yates' correction (the default here)
    a 2x2 table's statistic is the square of the pooled two-proportion z. For two rows, ``estimate`` is the
    difference of the first column's share, row 2 minus row 1 (with a Wald interval)."""
    import math

    import numpy as np
    from scipy import stats

    arr = np.asarray(table, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"need a table of at least 2 x 2 counts, got shape {arr.shape}")
    if (arr < 0).any():
        raise ValueError("counts must be >= 0")
    nan = math.nan
    rows = arr.sum(axis=1)
    n_a, n_b = int(rows[0]), int(rows[1])
    estimate = lo = hi = nan
    if arr.shape[0] == 2 and rows.all():
        pa, pb = arr[0, 0] / rows[0], arr[1, 0] / rows[1]
        estimate = float(pb - pa)
        se = math.sqrt(pa * (1 - pa) / rows[0] + pb * (1 - pb) / rows[1])
        half = float(stats.norm.ppf(0.5 + confidence / 2.0)) * se
        lo, hi = estimate - half, estimate + half
    if (arr.sum(axis=0) == 0).any() or (rows == 0).any():
        return TestResult("chi2_contingency", 0.0, 1.0, estimate, lo, hi, confidence, n_a, n_b, {"dof": nan})
    res = stats.chi2_contingency(arr, correction=correction)
    return TestResult(
        "chi2_contingency",
        float(res.statistic),
        float(res.pvalue),
        estimate,
        lo,
        hi,
        confidence,
        n_a,
        n_b,
        {"dof": int(res.dof)},
    )
