"""Two-sample tests: Welch's t, the two-proportion z test, Mann-Whitney U with the Hodges-Lehmann shift.

Every result's ``estimate`` is *b minus a* (candidate minus baseline) and every ``statistic`` is signed the
same way, so a positive statistic means b is larger. Inputs are plain sequences; NaNs are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from glassbox.stats.results import TestResult

if TYPE_CHECKING:
    import numpy as np

__all__ = ["hodges_lehmann", "iqr_filter", "mann_whitney_u", "percentile", "two_proportion_z", "welch_t"]

# Below this many pairwise differences the Hodges-Lehmann figures come from the full difference matrix;
# above it, from a selection that never builds the matrix (100k x 100k samples would be 10^10 pairs).
_BRUTE_FORCE_PAIRS = 4_000_000
_CANDIDATE_PAIRS = 200_000


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    import numpy as np

    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


def percentile(values: Sequence[float] | np.ndarray, q: float | Sequence[float]) -> Any:
    """The q-th percentile(s) (0-100, linear interpolation like numpy's default); NaN for no values."""
    import numpy as np

    arr = _clean(values)
    if arr.size == 0:
        return np.full(np.shape(q), np.nan) if np.ndim(q) else math.nan
    out = np.percentile(arr, q)
    return float(out) if np.ndim(out) == 0 else out


def iqr_filter(
    values: Sequence[float] | np.ndarray, k: float = 1.5, *, reference: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """Values inside [Q1 - k*IQR, Q3 + k*IQR] (Tukey's fences), in their original order; NaNs dropped.

    ``reference``: take the quartiles from these values instead (e.g. both samples pooled, so that two
    samples are trimmed at the same fences: fences of their own would add a spurious shift under no change).
    """
    import numpy as np

    if k < 0:
        raise ValueError(f"k must be >= 0, got {k!r}")
    arr = _clean(values)
    basis = arr if reference is None else _clean(reference)
    if arr.size == 0 or basis.size == 0:
        return arr
    q1, q3 = np.percentile(basis, [25.0, 75.0])
    spread = q3 - q1
    return arr[(arr >= q1 - k * spread) & (arr <= q3 + k * spread)]


def welch_t(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.95) -> TestResult:
    """Welch's unequal-variance t test of mean(b) - mean(a), CI with Welch-Satterthwaite degrees of freedom.

    Same statistic and p-value as ``scipy.stats.ttest_ind(b, a, equal_var=False)``. Fewer than two values
    in a sample, or no variance in either, leave the undefined figures NaN.
    """
    from glassbox.stats._dist import t_ppf, t_sf

    _check_confidence(confidence)
    x, y = _clean(a), _clean(b)
    n_a, n_b = int(x.size), int(y.size)
    diff = float(y.mean() - x.mean()) if n_a and n_b else math.nan
    nan = math.nan
    if n_a < 2 or n_b < 2:
        return TestResult("welch_t", nan, nan, diff, nan, nan, confidence, n_a, n_b, {"df": nan})
    va, vb = float(x.var(ddof=1)) / n_a, float(y.var(ddof=1)) / n_b
    se = math.sqrt(va + vb)
    if se == 0.0:
        return TestResult("welch_t", nan, nan, diff, diff, diff, confidence, n_a, n_b, {"df": nan, "se": 0.0})
    # Welch-Satterthwaite on the variance shares (scale-free): squaring va and vb themselves underflows to
    # 0/0 for tiny variances (1e-127 values); scipy then falls back to df=1, which the shares give exactly.
    share_a, share_b = va / (va + vb), vb / (va + vb)
    df = 1.0 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    t = diff / se
    p = 2.0 * t_sf(abs(t), df)
    half = t_ppf(0.5 + confidence / 2.0, df) * se
    extra = {"df": float(df), "se": se, "mean_a": float(x.mean()), "mean_b": float(y.mean())}
    return TestResult("welch_t", float(t), p, diff, diff - half, diff + half, confidence, n_a, n_b, extra)


def two_proportion_z(successes_a: int, n_a: int, successes_b: int, n_b: int, confidence: float = 0.95) -> TestResult:
    """Two-proportion z test of p_b - p_a: pooled-variance z and p-value (as statsmodels' proportions_ztest),
    unpooled Wald interval on the difference (as confint_proportions_2indep(method='wald')).

    When both samples are all-success or all-failure there is no variance and no evidence of a difference:
    z = 0, p = 1.
    """
    from glassbox.stats._dist import norm_ppf, norm_sf

    _check_confidence(confidence)
    for name, s, n in (("a", successes_a, n_a), ("b", successes_b, n_b)):
        if n <= 0:
            raise ValueError(f"sample {name} is empty (n_{name}={n})")
        if not 0 <= s <= n:
            raise ValueError(f"successes_{name}={s} is outside 0..n_{name}={n}")
    pa, pb = successes_a / n_a, successes_b / n_b
    diff = pb - pa
    pooled = (successes_a + successes_b) / (n_a + n_b)
    pooled_var = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    if pooled_var <= 0.0:
        z, p = 0.0, 1.0
    else:
        z = diff / math.sqrt(pooled_var)
        p = 2.0 * norm_sf(abs(z))
    se = math.sqrt(pa * (1.0 - pa) / n_a + pb * (1.0 - pb) / n_b)
    half = norm_ppf(0.5 + confidence / 2.0) * se
    extra = {"p_a": pa, "p_b": pb, "pooled": pooled, "se": se}
    return TestResult("two_proportion_z", float(z), p, diff, diff - half, diff + half, confidence, n_a, n_b, extra)


def _count_at_most(a_sorted: np.ndarray, b_sorted: np.ndarray, d: float) -> int:
    """How many pairwise differences b_j - a_i are <= d."""
    return int(_ends_at_most(a_sorted, b_sorted, d).sum())


def _ends_at_most(a_sorted: np.ndarray, b_sorted: np.ndarray, d: float) -> np.ndarray:
    """Per a_i, how many b_j have b_j - a_i <= d (the end of its run of such b_j)."""
    import numpy as np

    return np.searchsorted(b_sorted, a_sorted + d, side="right")


def _kth_differences(a_sorted: np.ndarray, b_sorted: np.ndarray, ks: Sequence[int]) -> list[float]:
    """The k-th smallest (1-based) of all differences b_j - a_i of two sorted samples, for each k, without
    building them all."""
    import numpy as np

    total = a_sorted.size * b_sorted.size
    if total <= _BRUTE_FORCE_PAIRS:
        diffs = np.subtract.outer(b_sorted, a_sorted).ravel()
        idx = sorted({k - 1 for k in ks})
        part = np.partition(diffs, idx)
        return [float(part[k - 1]) for k in ks]
    d_min, d_max = float(b_sorted[0] - a_sorted[-1]), float(b_sorted[-1] - a_sorted[0])
    found: dict[int, float] = {}
    for k in sorted(set(ks)):
        if k not in found:  # adjacent ranks (the two middle ones) come out of one window
            found[k], found[k + 1] = _select(a_sorted, b_sorted, k, d_min, d_max)
    return [found[k] for k in ks]


def _bracket(
    a_sorted: np.ndarray, b_sorted: np.ndarray, k: int, d_min: float, d_max: float, ends: dict[float, np.ndarray]
) -> tuple[float, float, int, int]:
    """(lo, hi, count <= lo, count <= hi) with count(lo) < k < count(hi) (when the data allow), narrowed by
    a random sample of pairs when the sample's quantiles (checked by exact counts) hold the k-th difference.
    ``ends`` keeps each count's per-row ends (``_ends_at_most``) for the window that follows."""
    import numpy as np

    total = a_sorted.size * b_sorted.size
    # Bounds strictly outside every difference, by a margin the values' own magnitude cannot round away:
    # the counts compare a_i + d with b_j, and 1e-9 vanishes next to a_i = -1.7e7 (a=[-17e6], b=[0, -17e6]
    # then lost the difference 0 from the window and gave 17e6 as the median).
    size = max(1.0, abs(d_min), abs(d_max), *(float(abs(v[i])) for v in (a_sorted, b_sorted) for i in (0, -1)))
    lo, hi = d_min - size * 1e-9 - 1e-300, d_max + size * 1e-9
    c_lo, c_hi = 0, total
    m = 20_000
    rng = np.random.default_rng(k)  # deterministic: the same data give the same path
    sample = np.sort(b_sorted[rng.integers(0, b_sorted.size, m)] - a_sorted[rng.integers(0, a_sorted.size, m)])
    p = k / total
    margin = 5.0 * math.sqrt(p * (1.0 - p) / m) + 2.0 / m
    i_lo, i_hi = math.floor((p - margin) * m), math.ceil((p + margin) * m)
    if i_lo >= 0:
        v = float(sample[i_lo])
        c = _counted(a_sorted, b_sorted, v, ends)
        if c < k and v > lo:
            lo, c_lo = v, c
    if i_hi < m:
        v = float(sample[i_hi])
        c = _counted(a_sorted, b_sorted, v, ends)
        if c > k and v < hi:
            hi, c_hi = v, c
    _keep(ends, lo, hi)
    return lo, hi, c_lo, c_hi


def _counted(a_sorted: np.ndarray, b_sorted: np.ndarray, d: float, ends: dict[float, np.ndarray]) -> int:
    """``_count_at_most``, keeping its per-row ends in ``ends``: the final window reuses two of them instead
    of searching again (each search is a pass over 100,000 values at gate scale)."""
    ends[d] = _ends_at_most(a_sorted, b_sorted, d)
    return int(ends[d].sum())


def _keep(ends: dict[float, np.ndarray], lo: float, hi: float) -> None:
    """Forget the ends of counts that no longer bound the window (memory stays two arrays)."""
    for d in [d for d in ends if d not in (lo, hi)]:
        del ends[d]


def _window(a_sorted: np.ndarray, b_sorted: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Per a_i, the index range [start, stop) of the b_j with lo < b_j - a_i <= hi."""
    import numpy as np

    return (
        np.searchsorted(b_sorted, a_sorted + lo, side="right"),
        np.searchsorted(b_sorted, a_sorted + hi, side="right"),
    )


def _window_ends(a_sorted: np.ndarray, b_sorted: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The smallest and largest difference in (lo, hi] (NaN, NaN when it holds none)."""
    starts, stops = _window(a_sorted, b_sorted, lo, hi)
    has = stops > starts
    if not has.any():
        return math.nan, math.nan
    low = b_sorted[starts[has]] - a_sorted[has]
    high = b_sorted[stops[has] - 1] - a_sorted[has]
    return float(low.min()), float(high.max())


def _select(a_sorted: np.ndarray, b_sorted: np.ndarray, k: int, d_min: float, d_max: float) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest differences: narrow (lo, hi] until few differences lie in it, then
    select among them.

    Steps interpolate on the empirical CDF of the differences (a few steps for smooth data) and fall
    back to bisection whenever a step does not halve the window, so the worst case stays logarithmic.
    """
    import numpy as np

    ends: dict[float, np.ndarray] = {}
    lo, hi, c_lo, c_hi = _bracket(a_sorted, b_sorted, k, d_min, d_max, ends)
    bisect = False
    while c_hi - c_lo > _CANDIDATE_PAIRS:
        if bisect:  # poor progress: ties? one value (to rounding) may fill the window
            low_end, high_end = _window_ends(a_sorted, b_sorted, lo, hi)
            if high_end - low_end <= 1e-12 * max(1.0, abs(high_end)):
                return high_end, high_end if c_hi > k else _next_above(a_sorted, b_sorted, hi)
        width = c_hi - c_lo
        if bisect:
            mids = [lo + (hi - lo) / 2.0]
        else:
            aim = int(_CANDIDATE_PAIRS * 0.4)
            targets = (max(k - aim, c_lo + 1), min(k + aim, c_hi))
            mids = [lo + (hi - lo) * (t - c_lo) / width for t in targets]
        moved = False
        for mid in mids:
            if not lo < mid < hi:
                continue
            moved = True
            c = _counted(a_sorted, b_sorted, mid, ends)
            if c >= k:
                hi, c_hi = mid, c
            else:
                lo, c_lo = mid, c
            _keep(ends, lo, hi)
        if not moved and bisect:
            break  # the window is one float wide
        bisect = not moved or (c_hi - c_lo) * 2 > width
    if c_hi - c_lo > _CANDIDATE_PAIRS:
        return float(hi), float(hi)  # every difference in a one-float window is this value
    if lo in ends and hi in ends:
        starts, stops = ends[lo], ends[hi]
    else:
        starts, stops = _window(a_sorted, b_sorted, lo, hi)
    counts = stops - starts
    # the differences b_j - a_i in the window, row by row: j runs from starts[i] to stops[i] - 1
    shift = starts - (np.cumsum(counts) - counts)
    cand = b_sorted[np.arange(counts.sum()) + np.repeat(shift, counts)] - np.repeat(a_sorted, counts)
    if cand.size == 0:
        return float(hi), float(hi)
    j = min(max(k - c_lo - 1, 0), cand.size - 1)
    if j + 1 < cand.size:
        part = np.partition(cand, [j, j + 1])
        return float(part[j]), float(part[j + 1])
    return float(np.partition(cand, j)[j]), _next_above(a_sorted, b_sorted, hi)


def _next_above(a_sorted: np.ndarray, b_sorted: np.ndarray, d: float) -> float:
    """The smallest difference greater than d (d itself when none is)."""
    stops = _window(a_sorted, b_sorted, d, d)[1]
    has = stops < b_sorted.size
    if not has.any():
        return float(d)
    return float((b_sorted[stops[has]] - a_sorted[has]).min())


def hodges_lehmann(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.98
) -> tuple[float, float, float]:
    """Hodges-Lehmann shift of b over a (median of all b_j - a_i) and its distribution-free (Moses) CI.

    The interval's ends are the order statistics D_(k) and D_(N+1-k) of the N = n_a*n_b differences, with
    k = floor(N/2 - z * sqrt(N(n_a+n_b+1)/12)) from the normal approximation to the Mann-Whitney U
    distribution (Hollander & Wolfe); for samples too small to reach the level, the full range is returned.
    Returns (estimate, ci_low, ci_high); NaNs for an empty sample.
    """
    import numpy as np

    _check_confidence(confidence)
    return _hodges_lehmann_sorted(np.sort(_clean(a)), np.sort(_clean(b)), confidence)


def _hodges_lehmann_sorted(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float, float, float]:
    from glassbox.stats._dist import norm_ppf

    n_a, n_b = x.size, y.size
    if n_a == 0 or n_b == 0:
        return math.nan, math.nan, math.nan
    total = n_a * n_b
    z = norm_ppf(0.5 + confidence / 2.0)
    k = math.floor(total / 2.0 - z * math.sqrt(total * (n_a + n_b + 1) / 12.0))
    k = max(k, 1)
    mid_low, mid_high = (total + 1) // 2, total // 2 + 1
    ks = [mid_low, mid_high, k, total + 1 - k]
    m_lo, m_hi, lo, hi = _kth_differences(x, y, ks)
    return (m_lo + m_hi) / 2.0, lo, hi


# Up to this many values the rank sums below are exact in float64 (every partial sum is a half-integer
# under 2**52), so any summation order gives scipy's figure; beyond it, scipy does the ranking.
_EXACT_RANK_SUMS = 50_000_000


def _mwu_sorted(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(U of y, two-sided p) as ``scipy.stats.mannwhitneyu(y, x)`` computes them (average ranks, tie
    correction, continuity correction, normal approximation), from the sorted samples: no argsort of the
    pooled values and no scipy.stats import. None where scipy would use the exact distribution (no ties
    and a sample of 8 or fewer) or where the sums would not be exact."""
    import numpy as np

    from glassbox.stats._dist import norm_sf

    n1, n2 = int(y.size), int(x.size)
    n = n1 + n2
    if n > _EXACT_RANK_SUMS:
        return None
    pooled = np.concatenate([y, x])
    pooled.sort(kind="stable")  # timsort: two sorted runs are merged in one pass
    first = np.empty(n, dtype=bool)  # where each run of equal values starts
    first[0] = True
    np.not_equal(pooled[1:], pooled[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=n)
    if (n1 <= 8 or n2 <= 8) and not (counts > 1).any():
        return None
    # a value's average rank is (values below it) + (its ties + 1) / 2 = (left + right + 1) / 2
    left = np.searchsorted(pooled, y, side="left")
    right = np.searchsorted(pooled, y, side="right")
    r1 = float(int(left.sum()) + int(right.sum()) + n1) / 2.0
    u1 = r1 - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    # scipy's tie term, summed over the same layout (a count where each run starts, zeros elsewhere)
    t = np.zeros(n)
    t[starts] = counts
    tie_term = float(np.sum(t**3 - t))
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    sd = math.sqrt(var) if var >= 0.0 else math.nan
    numerator = u - n1 * n2 / 2 - 0.5
    # numpy's division, as scipy's: by zero +-inf, or NaN for 0 / 0
    z = numerator / sd if sd else (math.copysign(math.inf, numerator) if numerator else math.nan)
    p = min(max(norm_sf(z) * 2, 0.0), 1.0) if not math.isnan(z) else math.nan
    return u1, p


def mann_whitney_u(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.98
) -> TestResult:
    """Two-sided Mann-Whitney U test (scipy's ``mannwhitneyu(b, a)``: U is b's statistic) with the
    Hodges-Lehmann shift b - a and its distribution-free CI at ``confidence`` as estimate and interval,
    the way Kayenta's MannWhitney classifier reports a metric's change."""
    import numpy as np

    _check_confidence(confidence)
    x, y = _clean(a), _clean(b)
    n_a, n_b = int(x.size), int(y.size)
    if n_a == 0 or n_b == 0:
        nan = math.nan
        return TestResult("mann_whitney_u", nan, nan, nan, nan, nan, confidence, n_a, n_b, {})
    xs, ys = np.sort(x), np.sort(y)  # one sort each serves the test and the Hodges-Lehmann selection
    got = _mwu_sorted(xs, ys)
    if got is None:
        from scipy import stats

        res = stats.mannwhitneyu(y, x, alternative="two-sided")
        got = float(res.statistic), float(res.pvalue)
    u_b, p = got
    est, lo, hi = _hodges_lehmann_sorted(xs, ys, confidence)
    extra = {"u_a": float(n_a * n_b - u_b), "prob_b_greater": u_b / (n_a * n_b)}
    return TestResult("mann_whitney_u", u_b, p, est, lo, hi, confidence, n_a, n_b, extra)
