"""glassbox.stats.twosample against scipy/statsmodels (1e-9), a worked Hodges-Lehmann example, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from glassbox.stats import twosample
from glassbox.stats.results import TestResult
from glassbox.stats.twosample import (
    hodges_lehmann,
    iqr_filter,
    mann_whitney_u,
    percentile,
    two_proportion_z,
    welch_t,
)

TOL = 1e-9


def samples(seed: int, n_a: int, n_b: int, shift: float = 0.0, scale_b: float = 1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(10.0, 2.0, n_a), rng.normal(10.0 + shift, 2.0 * scale_b, n_b)


# --- Welch -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "n_a", "n_b", "shift", "scale_b"),
    [(1, 30, 30, 0.0, 1.0), (2, 12, 50, 1.5, 3.0), (3, 200, 7, -0.4, 0.2), (4, 2, 2, 1.0, 1.0)],
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_welch_matches_scipy(seed, n_a, n_b, shift, scale_b, confidence):
    a, b = samples(seed, n_a, n_b, shift, scale_b)
    got = welch_t(a, b, confidence)
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(confidence)
    assert isinstance(got, TestResult)
    assert got.method == "welch_t"
    assert got.statistic == pytest.approx(ref.statistic, rel=TOL, abs=TOL)
    assert got.p_value == pytest.approx(ref.pvalue, rel=TOL, abs=TOL)
    assert got.extra["df"] == pytest.approx(ref.df, rel=TOL)
    assert got.estimate == pytest.approx(b.mean() - a.mean(), rel=TOL, abs=TOL)
    assert got.ci_low == pytest.approx(ci.low, rel=TOL, abs=TOL)
    assert got.ci_high == pytest.approx(ci.high, rel=TOL, abs=TOL)
    assert (got.n_a, got.n_b, got.confidence) == (n_a, n_b, confidence)


def test_welch_undefined_cases_are_nan_not_errors():
    one = welch_t([1.0], [2.0, 3.0])
    assert math.isnan(one.p_value) and one.estimate == pytest.approx(1.5)
    flat = welch_t([2.0, 2.0, 2.0], [2.0, 2.0])
    assert math.isnan(flat.p_value) and flat.estimate == 0.0
    assert welch_t([1.0, float("nan"), 3.0], [2.0, 4.0]).n_a == 2


# --- two proportions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sa", "na", "sb", "nb"), [(10, 100, 20, 100), (5, 1000, 9, 1200), (50, 60, 30, 60), (0, 40, 3, 45), (7, 7, 6, 9)]
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_two_proportion_matches_statsmodels(sa, na, sb, nb, confidence):
    got = two_proportion_z(sa, na, sb, nb, confidence)
    z, p = proportions_ztest([sb, sa], [nb, na])
    low, high = confint_proportions_2indep(sb, nb, sa, na, method="wald", compare="diff", alpha=1 - confidence)
    assert got.statistic == pytest.approx(z, rel=TOL, abs=TOL)
    assert got.p_value == pytest.approx(p, rel=TOL, abs=TOL)
    assert got.estimate == pytest.approx(sb / nb - sa / na, rel=TOL, abs=TOL)
    assert got.ci_low == pytest.approx(low, rel=TOL, abs=TOL)
    assert got.ci_high == pytest.approx(high, rel=TOL, abs=TOL)


def test_two_proportion_without_variance_is_no_evidence():
    got = two_proportion_z(0, 50, 0, 80)
    assert (got.statistic, got.p_value, got.estimate) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("args", "message"), [((1, 0, 1, 5), "empty"), ((6, 5, 1, 5), "outside"), ((1, 5, -1, 5), "outside")]
)
def test_two_proportion_rejects_impossible_counts(args, message):
    with pytest.raises(ValueError, match=message):
        two_proportion_z(*args)


def test_confidence_must_be_a_probability():
    for bad in (0.0, 1.0, 95):
        with pytest.raises(ValueError, match="confidence"):
            welch_t([1, 2, 3], [2, 3, 4], bad)
        with pytest.raises(ValueError, match="confidence"):
            hodges_lehmann([1, 2], [3, 4], bad)


# --- Mann-Whitney and Hodges-Lehmann ---------------------------------------------------------------


@pytest.mark.parametrize(("seed", "n_a", "n_b", "shift"), [(5, 8, 9, 0.5), (6, 40, 60, 0.0), (7, 300, 250, -1.0)])
def test_mann_whitney_matches_scipy(seed, n_a, n_b, shift):
    a, b = samples(seed, n_a, n_b, shift)
    got = mann_whitney_u(a, b)
    ref = stats.mannwhitneyu(b, a, alternative="two-sided")
    assert got.statistic == pytest.approx(ref.statistic, rel=TOL)
    assert got.p_value == pytest.approx(ref.pvalue, rel=TOL, abs=TOL)
    assert got.extra["u_a"] == pytest.approx(stats.mannwhitneyu(a, b).statistic, rel=TOL)
    est, low, high = hodges_lehmann(a, b, 0.98)
    assert (got.estimate, got.ci_low, got.ci_high, got.confidence) == (est, low, high, 0.98)
    assert got.estimate == pytest.approx(np.median(np.subtract.outer(b, a)), rel=TOL, abs=TOL)


def test_mann_whitney_with_ties_matches_scipy():
    a = [1, 2, 2, 3, 3, 3, 4, 5, 5, 6]
    b = [2, 3, 3, 4, 4, 5, 5, 5, 6, 7, 8]
    got = mann_whitney_u(a, b)
    ref = stats.mannwhitneyu(b, a, alternative="two-sided")
    assert got.p_value == pytest.approx(ref.pvalue, rel=TOL)
    assert got.statistic == ref.statistic


def test_hodges_lehmann_worked_example():
    # b - a over all pairs: 3,5,7 / 2,4,6 / 1,3,5 -> sorted 1 2 3 3 4 5 5 6 7, median 4
    est, low, high = hodges_lehmann([1, 2, 3], [4, 6, 8], 0.95)
    assert est == 4.0
    # nine pairs cannot reach 95 %: k = floor(4.5 - 1.96 * sqrt(9*7/12)) < 1, so the whole range
    assert (low, high) == (1.0, 7.0)
    # an even count of pairs: differences 2,4 / 1,3 -> 1 2 | 3 4, the mean of the middle two is 2.5
    assert hodges_lehmann([0, 1], [2, 4], 0.5)[0] == 2.5


def test_hodges_lehmann_interval_uses_the_normal_approximation_order_statistics():
    # n_a = n_b = 10, N = 100 at 95 %: k = floor(50 - 1.959964 * sqrt(175)) = floor(24.07) = 24
    a, b = samples(11, 10, 10, 0.7)
    diffs = np.sort(np.subtract.outer(b, a).ravel())
    est, low, high = hodges_lehmann(a, b, 0.95)
    assert math.floor(50 - stats.norm.ppf(0.975) * math.sqrt(175)) == 24
    assert low == diffs[23]
    assert high == diffs[100 - 24]
    assert est == pytest.approx((diffs[49] + diffs[50]) / 2)


@pytest.mark.parametrize("data", ["continuous", "ties", "heavy_ties", "skewed"])
def test_hodges_lehmann_selection_equals_full_matrix(monkeypatch, data):
    rng = np.random.default_rng(21)
    n_a, n_b = 700, 900
    if data == "continuous":
        a, b = rng.normal(0, 1, n_a), rng.normal(0.2, 1.3, n_b)
    elif data == "ties":
        a, b = np.round(rng.normal(0, 1, n_a), 1), np.round(rng.normal(0.1, 1, n_b), 1)
    elif data == "heavy_ties":
        a, b = rng.integers(0, 4, n_a).astype(float), rng.integers(0, 5, n_b).astype(float)
    else:
        a, b = rng.lognormal(0, 1.5, n_a), rng.lognormal(0.1, 1.5, n_b)
    full = hodges_lehmann(a, b, 0.98)
    monkeypatch.setattr(twosample, "_BRUTE_FORCE_PAIRS", 0)
    monkeypatch.setattr(twosample, "_CANDIDATE_PAIRS", 500)
    fast = hodges_lehmann(a, b, 0.98)
    assert fast == pytest.approx(full, rel=TOL, abs=1e-12)


def test_hodges_lehmann_of_an_empty_sample_is_nan():
    assert all(math.isnan(v) for v in hodges_lehmann([], [1.0, 2.0]))
    assert math.isnan(mann_whitney_u([1.0], []).p_value)


finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
sample = st.lists(finite, min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(a=sample, b=sample, c=st.floats(min_value=-1e3, max_value=1e3))
def test_hodges_lehmann_shift_equivariance(a, b, c):
    est, low, high = hodges_lehmann(a, b)
    est2, low2, high2 = hodges_lehmann(a, np.asarray(b) + c)
    assert est2 == pytest.approx(est + c, abs=1e-6)
    assert low2 == pytest.approx(low + c, abs=1e-6)
    assert high2 == pytest.approx(high + c, abs=1e-6)
    assert low <= est <= high


@settings(max_examples=60, deadline=None)
@given(a=sample, b=sample)
@example(a=[0.0, 0.0], b=[0.0, 9.972560148232299e-127])  # variance so small its square underflows
def test_swapping_samples_negates_the_estimate(a, b):
    est, low, high = hodges_lehmann(a, b)
    r_est, r_low, r_high = hodges_lehmann(b, a)
    assert r_est == pytest.approx(-est, abs=1e-9)
    assert (r_low, r_high) == pytest.approx((-high, -low), abs=1e-9)
    w, rw = welch_t(a, b), welch_t(b, a)
    assert rw.estimate == pytest.approx(-w.estimate, abs=1e-9)
    if not math.isnan(w.p_value):
        assert rw.p_value == pytest.approx(w.p_value, rel=1e-9, abs=1e-12)
        assert (rw.ci_low, rw.ci_high) == pytest.approx((-w.ci_high, -w.ci_low), rel=1e-9, abs=1e-9)
    assert mann_whitney_u(b, a).p_value == pytest.approx(mann_whitney_u(a, b).p_value, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(sa=st.integers(0, 500), extra_a=st.integers(1, 500), sb=st.integers(0, 500), extra_b=st.integers(1, 500))
def test_two_proportion_symmetry(sa, extra_a, sb, extra_b):
    na, nb = sa + extra_a, sb + extra_b
    got, rev = two_proportion_z(sa, na, sb, nb), two_proportion_z(sb, nb, sa, na)
    assert rev.statistic == pytest.approx(-got.statistic, abs=1e-12)
    assert rev.p_value == pytest.approx(got.p_value, abs=1e-12)
    assert got.ci_low <= got.estimate <= got.ci_high


# --- percentiles and outliers ------------------------------------------------------------------------


def test_percentile_is_numpys_linear_percentile():
    values = [5.0, 1.0, 9.0, 3.0, float("nan"), 7.0]
    assert percentile(values, 50) == np.percentile([5, 1, 9, 3, 7], 50)
    assert list(percentile(values, [95, 99])) == list(np.percentile([5, 1, 9, 3, 7], [95, 99]))
    assert math.isnan(percentile([], 50))


def test_iqr_filter_keeps_values_inside_tukeys_fences():
    values = [10, 11, 12, 12, 13, 14, 15, 100, -50]
    q1, q3 = np.percentile(values, [25, 75])
    kept = iqr_filter(values)
    assert list(kept) == [v for v in values if q1 - 1.5 * (q3 - q1) <= v <= q3 + 1.5 * (q3 - q1)]
    assert 100 not in kept and -50 not in kept
    assert len(iqr_filter(values, k=100)) == len(values)
    assert iqr_filter([]).size == 0
    with pytest.raises(ValueError, match="k must be"):
        iqr_filter(values, k=-1)


def test_iqr_filter_with_reference_fences():
    pooled = list(range(1, 101))
    kept = iqr_filter([-500, 5, 50, 95, 400], reference=pooled)
    q1, q3 = np.percentile(pooled, [25, 75])
    assert list(kept) == [v for v in (-500, 5, 50, 95, 400) if q1 - 1.5 * (q3 - q1) <= v <= q3 + 1.5 * (q3 - q1)]
    assert list(kept) == [5, 50, 95]


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.integers(-50, 50), min_size=1, max_size=120),
    b=st.lists(st.integers(-50, 50), min_size=1, max_size=120),
    scale=st.sampled_from([1.0, 0.1, 1e6]),
    confidence=st.sampled_from([0.8, 0.95, 0.98]),
)
@example(a=[-17], b=[0, -17], scale=1e6, confidence=0.8)  # a margin of 1e-9 vanished next to -1.7e7
def test_selection_without_the_matrix_equals_the_full_matrix(a, b, scale, confidence):
    x, y = np.asarray(a, float) * scale, np.asarray(b, float) * scale
    full = hodges_lehmann(x, y, confidence)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(twosample, "_BRUTE_FORCE_PAIRS", 0)
        mp.setattr(twosample, "_CANDIDATE_PAIRS", 7)
        fast = hodges_lehmann(x, y, confidence)
    assert fast == pytest.approx(full, rel=1e-9, abs=1e-9 * scale)
