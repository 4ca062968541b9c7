"""Distribution drift between a reference and a current sample, as Evidently 0.7 computes it.

Every figure equals Evidently's stattest of the same name on the same data (checked in tests):

- ``psi``: population stability index over Evidently's bins, zero shares filled; bands 0.1 / 0.2.
- ``ks_test``: two-sample Kolmogorov-Smirnov (scipy ``ks_2samp``), drift when p ≤ 0.05.
- ``jensen_shannon``: Jensen-Shannon *distance* (scipy, natural log) over the same bins, unfilled.
- ``wasserstein_normed``: first Wasserstein distance over the reference's std (at least 0.001).
- ``chi2_test``: χ² goodness of fit of current counts against reference shares, drift when p < 0.05.
- ``z_proportion_test``: two-proportion Z test for a binary category, drift when p < 0.05.

Bins (Evidently's ``get_binned_data``): a numeric sample whose reference has more than 20 distinct
values is cut at Sturges edges over the combined data; otherwise each distinct value is a bin.

``select_method`` is Evidently's default registry: up to 1,000 reference values, KS (numeric with
more than 5 distinct values), χ² (3+ categories) or Z (2); above 1,000, normed Wasserstein
(numeric, more than 5 values) or Jensen-Shannon. ``drift_test`` runs the chosen one;
``drift_test_and_psi`` also gives the PSI, reading each sample once for both.
NaN and None are dropped first. Nothing here reads the store.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from glassbox.stats.results import TestResult

PSI_BANDS = (0.1, 0.2)  # < 0.1 no shift, 0.1-0.2 moderate, ≥ 0.2 significant
SMALL_REFERENCE = 1000  # Evidently: up to this many reference values, a test; above, a distance
METHODS = ("ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z")
# method -> (default threshold, the score is a p-value)
DEFAULTS: dict[str, tuple[float, bool]] = {
    "ks": (0.05, True),
    "chisquare": (0.05, True),
    "z": (0.05, True),
    "wasserstein": (0.1, False),
    "jensenshannon": (0.1, False),
    "psi": (0.1, False),
}


@dataclass(frozen=True, slots=True)
class DriftScore:
    """One drift check: ``score`` is a p-value (ks, chisquare, z) or a distance (the others);
    ``drifted`` compares it with ``threshold`` the way Evidently does."""

    method: str
    score: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    categorical: bool
    statistic: float = math.nan

    @property
    def is_p_value(self) -> bool:
        return DEFAULTS[self.method][1]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score_kind"] = "p_value" if self.is_p_value else "distance"
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def clean(values: Iterable[Any]) -> list[Any]:
    """Values without None/NaN (Evidently drops them before testing)."""
    return [v for v in values if v is not None and v == v]  # noqa: PLR0124 - NaN is the one value unequal to itself


def _numeric(values: Iterable[Any]) -> Any:
    import numpy as np

    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values  # already the floats (drift_test converts each sample once)
    return np.asarray([float(v) for v in values], dtype=float)


def _check(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) == 0 or len(b) == 0:
        raise ValueError("drift needs a non-empty reference and current sample")


def binned_shares(
    reference: Sequence[Any], current: Sequence[Any], *, categorical: bool = False, fill_zeros: bool = True
) -> tuple[Any, Any]:
    """Shares of each sample per bin (Evidently's ``get_binned_data``), as two numpy arrays.

    ``fill_zeros`` replaces empty bins by a small share (0.0001, or a millionth of the smallest
    share when that is below it) so that PSI's logarithm is defined.
    """
    _check(reference, current)
    return _binned(_Samples(reference, current, categorical), fill_zeros)


def _keys(ref_counts: Counter[Any], cur_counts: Counter[Any]) -> list[Any]:
    """Every category, in order of first appearance: a fixed summation order, so a score is the same in
    every process (a set's order follows string hashing, which changes per process)."""
    return list(dict.fromkeys([*ref_counts, *cur_counts]))


def _binned(s: _Samples, fill_zeros: bool) -> tuple[Any, Any]:
    import numpy as np

    if not s.categorical and s.ref_distinct > 20:
        ref, cur = s.arrays()
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        ref_share = np.histogram(ref, edges)[0] / len(ref)
        cur_share = np.histogram(cur, edges)[0] / len(cur)
    else:
        ref_counts, cur_counts = s.counts()
        keys = _keys(ref_counts, cur_counts)
        ref_share = np.array([ref_counts.get(k, 0) / len(s.ref) for k in keys], dtype=float)
        cur_share = np.array([cur_counts.get(k, 0) / len(s.cur) for k in keys], dtype=float)
    if fill_zeros:
        for shares in (ref_share, cur_share):
            smallest = shares[shares != 0].min()
            np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return ref_share, cur_share


def psi(reference: Sequence[Any], current: Sequence[Any], *, categorical: bool = False) -> float:
    """Population stability index: Σ (ref - cur) · ln(ref / cur) over the bins."""
    _check(reference, current)
    return _psi(_Samples(reference, current, categorical))


def _psi(s: _Samples) -> float:
    import numpy as np

    ref, cur = _binned(s, fill_zeros=True)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def psi_band(value: float) -> str:
    """``none`` (< 0.1), ``moderate`` (0.1-0.2) or ``significant`` (≥ 0.2): the usual PSI reading."""
    if value < PSI_BANDS[0]:
        return "none"
    return "moderate" if value < PSI_BANDS[1] else "significant"


def jensen_shannon(
    reference: Sequence[Any], current: Sequence[Any], *, categorical: bool = False, base: float | None = None
) -> float:
    """Jensen-Shannon distance (the square root of the divergence) between the binned shares."""
    _check(reference, current)
    return _jensen_shannon(_Samples(reference, current, categorical), base)


def _jensen_shannon(s: _Samples, base: float | None = None) -> float:
    from scipy.spatial import distance

    ref, cur = _binned(s, fill_zeros=False)
    return float(distance.jensenshannon(ref, cur, base))


def wasserstein_normed(reference: Sequence[float], current: Sequence[float]) -> float:
    """First Wasserstein distance divided by the reference's (population) std, floored at 0.001."""
    import numpy as np
    from scipy import stats

    _check(reference, current)
    ref, cur = _numeric(reference), _numeric(current)
    return float(stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))


def ks_test(reference: Sequence[float], current: Sequence[float]) -> TestResult:
    """Two-sided two-sample Kolmogorov-Smirnov; estimate = mean(current) - mean(reference)."""
    from scipy.stats import ks_2samp

    _check(reference, current)
    ref, cur = _numeric(reference), _numeric(current)
    with warnings.catch_warnings():  # scipy falls back to the asymptotic p when the exact one fails, as it says
        warnings.simplefilter("ignore", RuntimeWarning)
        res = ks_2samp(ref, cur)
    return TestResult(
        "ks",
        float(res.statistic),
        float(res.pvalue),
        float(cur.mean() - ref.mean()),
        math.nan,
        math.nan,
        math.nan,
        len(ref),
        len(cur),
    )


def chi2_test(reference: Sequence[Any], current: Sequence[Any]) -> TestResult:
    """χ² goodness of fit: current counts against reference counts scaled to the current size
    (Evidently's form, not a contingency test). Estimate: NaN (no single difference)."""
    _check(reference, current)
    return _chi2(_Samples(reference, current, True))


def _chi2(s: _Samples) -> TestResult:
    import numpy as np
    from scipy.stats import chisquare

    reference, current = s.ref, s.cur
    ref_counts, cur_counts = s.counts()
    keys = _keys(ref_counts, cur_counts)
    k = len(current) / len(reference)
    with np.errstate(divide="ignore", invalid="ignore"):  # a category new in current: statistic inf, p 0
        res = chisquare([cur_counts.get(key, 0) for key in keys], [ref_counts.get(key, 0) * k for key in keys])
    return TestResult(
        "chisquare",
        float(res.statistic),
        float(res.pvalue),
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        len(reference),
        len(current),
        {"categories": len(keys)},
    )


def z_proportion_test(reference: Sequence[Any], current: Sequence[Any]) -> TestResult:
    """Pooled two-proportion Z test (two-sided) on the share of values other than the smallest
    category; estimate = share(current) - share(reference), statistic = estimate / pooled s.e."""
    from scipy.stats import norm

    _check(reference, current)
    values = set(reference) | set(current)
    if len(values) == 1:  # both samples hold the same single value: nothing moved (Evidently: p = 1)
        return TestResult("z", 0.0, 1.0, 0.0, math.nan, math.nan, math.nan, len(reference), len(current))
    first = sorted(values)[0]
    n1, n2 = len(reference), len(current)
    p1 = sum(1 for v in reference if v != first) / n1
    p2 = sum(1 for v in current if v != first) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = (p2 - p1) / se if se > 0 else math.nan
    p = float(2 * (1 - norm.cdf(abs(z)))) if se > 0 else math.nan
    return TestResult("z", z, p, p2 - p1, math.nan, math.nan, math.nan, n1, n2, {"baseline_category": first})


def select_method(reference: Sequence[Any], current: Sequence[Any], *, categorical: bool = False) -> str:
    """Evidently's default stattest for these samples (see the module docstring)."""
    return _select(len(reference), len(set(reference) | set(current)), categorical)


def _select(n_reference: int, distinct: int, categorical: bool) -> str:
    if n_reference <= SMALL_REFERENCE:
        if categorical or distinct <= 5:
            return "chisquare" if distinct > 2 else "z"
        return "ks"
    if categorical or distinct <= 5:
        return "jensenshannon"
    return "wasserstein"


def drift_test(
    reference: Iterable[Any],
    current: Iterable[Any],
    *,
    categorical: bool = False,
    method: str | None = None,
    threshold: float | None = None,
) -> DriftScore:
    """Run ``method`` (default: ``select_method``) at ``threshold`` (default: the method's own).

    Numeric input is compared as floats; categories as they are. Raises ValueError on an empty
    sample, an unknown method, or a numeric-only method asked of categories.
    """
    return _drift_test(reference, current, categorical, method, threshold, with_psi=False)[0]


def drift_test_and_psi(
    reference: Iterable[Any],
    current: Iterable[Any],
    *,
    categorical: bool = False,
    method: str | None = None,
    threshold: float | None = None,
) -> tuple[DriftScore, float]:
    """``drift_test`` and the ``psi`` of the same samples, each sample cleaned, converted and counted once
    (what a drift check reports for every field)."""
    return _drift_test(reference, current, categorical, method, threshold, with_psi=True)


class _Samples:
    """Two cleaned samples and what the statistics read of them (float arrays, value counts, the
    reference's distinct values), each computed on first use and then shared."""

    def __init__(self, ref: Sequence[Any], cur: Sequence[Any], categorical: bool) -> None:
        self.ref, self.cur, self.categorical = ref, cur, categorical
        self._arrays: tuple[Any, Any] | None = None
        self._counts: tuple[Counter[Any], Counter[Any]] | None = None
        self._ref_set: set[Any] | None = None

    def arrays(self) -> tuple[Any, Any]:
        if self._arrays is None:
            self._arrays = (_numeric(self.ref), _numeric(self.cur))
        return self._arrays

    def counts(self) -> tuple[Counter[Any], Counter[Any]]:
        if self._counts is None:
            self._counts = (Counter(self.ref), Counter(self.cur))
        return self._counts

    @property
    def ref_set(self) -> set[Any]:
        if self._ref_set is None:
            self._ref_set = set(self.ref)
        return self._ref_set

    @property
    def ref_distinct(self) -> int:
        return len(self.ref_set)

    def distinct(self) -> int:
        return len(self.ref_set | set(self.cur))


def _drift_test(
    reference: Iterable[Any],
    current: Iterable[Any],
    categorical: bool,
    method: str | None,
    threshold: float | None,
    *,
    with_psi: bool,
) -> tuple[DriftScore, float]:
    ref, cur = clean(reference), clean(current)
    _check(ref, cur)
    # psi reads the values as given (the floats below equal them), so one set of samples serves both
    if not categorical:
        ref, cur = [float(v) for v in ref], [float(v) for v in cur]
    s = _Samples(ref, cur, categorical)
    name = method or _select(len(ref), s.distinct(), categorical)
    if name not in DEFAULTS:
        raise ValueError(f"drift method: expected one of {', '.join(METHODS)}, got {name!r}")
    if categorical and name in ("ks", "wasserstein"):
        raise ValueError(f"drift method {name!r} needs numbers; categories take chisquare, z, psi or jensenshannon")
    limit = DEFAULTS[name][0] if threshold is None else float(threshold)
    statistic = math.nan
    psi_value = math.nan
    if name == "ks":
        r = ks_test(*s.arrays())
        score, statistic, drifted = r.p_value, r.statistic, r.p_value <= limit
    elif name == "chisquare":
        r = _chi2(s)
        score, statistic, drifted = r.p_value, r.statistic, r.p_value < limit
    elif name == "z":
        r = z_proportion_test(ref, cur)
        score, statistic, drifted = r.p_value, r.statistic, r.p_value < limit
    elif name == "wasserstein":
        score = wasserstein_normed(*s.arrays())
        drifted = score >= limit
    elif name == "psi":
        score = psi_value = _psi(s)
        drifted = score >= limit
    else:
        score = _jensen_shannon(s)
        drifted = score >= limit
    if with_psi and name != "psi":
        psi_value = _psi(s)
    return (
        DriftScore(name, float(score), limit, bool(drifted), len(ref), len(cur), categorical, float(statistic)),
        psi_value,
    )
