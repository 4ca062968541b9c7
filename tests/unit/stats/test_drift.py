"""Drift statistics equal Evidently 0.7's stattests and scipy's on the same arrays."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from evidently.legacy.calculations.stattests import (
    chi_stat_test,
    jensenshannon_stat_test,
    ks_stat_test,
    psi_stat_test,
    wasserstein_stat_test,
    z_stat_test,
)
from evidently.legacy.calculations.stattests.registry import get_stattest
from evidently.legacy.core import ColumnType
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from glassbox.stats import drift

NUM, CAT = ColumnType.Numerical, ColumnType.Categorical


def _ev(test, a, b, kind=NUM):
    return test(pd.Series(a), pd.Series(b), kind, None)


def _samples(shift: float, n_ref: int = 400, n_cur: int = 300, seed: int = 7):
    rng = np.random.default_rng(seed)
    return rng.normal(0.6, 0.1, n_ref), rng.normal(0.6 + shift, 0.1, n_cur)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3])
def test_numeric_statistics_equal_evidently(shift):
    a, b = _samples(shift)
    assert drift.psi(a, b) == pytest.approx(_ev(psi_stat_test, a, b).drift_score, abs=1e-9, rel=1e-9)
    assert drift.jensen_shannon(a, b) == pytest.approx(_ev(jensenshannon_stat_test, a, b).drift_score, abs=1e-9)
    assert drift.wasserstein_normed(a, b) == pytest.approx(_ev(wasserstein_stat_test, a, b).drift_score, abs=1e-9)
    ks = drift.ks_test(a, b)
    assert ks.p_value == pytest.approx(_ev(ks_stat_test, a, b).drift_score, abs=1e-12)
    ref = stats.ks_2samp(a, b)
    assert (ks.statistic, ks.p_value) == (pytest.approx(ref.statistic, abs=1e-12), pytest.approx(ref.pvalue, abs=1e-12))
    assert ks.estimate == pytest.approx(b.mean() - a.mean(), abs=1e-12)


def test_shift_is_found_and_no_shift_is_not():
    a, b = _samples(0.0, seed=3)
    assert not drift.drift_test(a, b).drifted
    a, b = _samples(0.1, seed=3)
    got = drift.drift_test(a, b)
    assert got.method == "ks" and got.drifted and got.score < 1e-6


def test_wasserstein_matches_scipy_and_floors_the_norm():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 9.0]
    assert drift.wasserstein_normed(a, b) == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a), abs=1e-12)
    # a constant reference: the std floor of 0.001 keeps the ratio finite, as in Evidently
    assert drift.wasserstein_normed([1.0] * 5, [1.0, 1.0, 1.1]) == pytest.approx(
        _ev(wasserstein_stat_test, [1.0] * 5, [1.0, 1.0, 1.1]).drift_score, abs=1e-9
    )


def test_few_distinct_values_are_binned_by_value():
    a = [0.1, 0.2, 0.2, 0.3, 0.3, 0.3] * 10
    b = [0.1, 0.1, 0.2, 0.3, 0.4] * 12  # 0.4 absent from the reference: the zero share is filled
    assert drift.psi(a, b) == pytest.approx(_ev(psi_stat_test, a, b).drift_score, abs=1e-9)
    assert drift.jensen_shannon(a, b) == pytest.approx(_ev(jensenshannon_stat_test, a, b).drift_score, abs=1e-9)


@pytest.mark.parametrize("shifted", [False, True])
def test_categorical_statistics_equal_evidently(shifted):
    rng = np.random.default_rng(11)
    cats = ["qa", "search", "summarise", "chat"]
    a = list(rng.choice(cats, 500, p=[0.4, 0.3, 0.2, 0.1]))
    b = list(rng.choice(cats, 400, p=[0.1, 0.2, 0.3, 0.4] if shifted else [0.4, 0.3, 0.2, 0.1]))
    chi = drift.chi2_test(a, b)
    assert chi.p_value == pytest.approx(_ev(chi_stat_test, a, b, CAT).drift_score, abs=1e-12)
    assert drift.psi(a, b, categorical=True) == pytest.approx(_ev(psi_stat_test, a, b, CAT).drift_score, abs=1e-9)
    assert drift.jensen_shannon(a, b, categorical=True) == pytest.approx(
        _ev(jensenshannon_stat_test, a, b, CAT).drift_score, abs=1e-9
    )
    assert drift.drift_test(a, b, categorical=True).drifted is shifted


@pytest.mark.parametrize("shifted", [False, True])
def test_binary_z_test_equals_evidently(shifted):
    rng = np.random.default_rng(5)
    a = list(rng.choice(["accept", "reject"], 300, p=[0.7, 0.3]))
    b = list(rng.choice(["accept", "reject"], 250, p=[0.4, 0.6] if shifted else [0.7, 0.3]))
    z = drift.z_proportion_test(a, b)
    assert z.p_value == pytest.approx(_ev(z_stat_test, a, b, CAT).drift_score, abs=1e-12)
    # the estimate is b - a of the share of the non-baseline category ("reject")
    assert z.estimate == pytest.approx(b.count("reject") / 250 - a.count("reject") / 300, abs=1e-12)
    assert drift.drift_test(a, b, categorical=True).method == "z"
    assert drift.drift_test(a, b, categorical=True).drifted is shifted
    same = drift.z_proportion_test(["x"] * 4, ["x"] * 3)
    assert same.p_value == _ev(z_stat_test, ["x"] * 4, ["x"] * 3, CAT).drift_score == 1


@pytest.mark.parametrize(
    ("n_ref", "categorical", "distinct"),
    [
        (1000, False, 50),
        (1001, False, 50),
        (200, False, 4),
        (200, False, 2),
        (2000, False, 3),
        (1000, True, 2),
        (1000, True, 6),
        (5000, True, 6),
    ],
)
def test_default_method_follows_evidentlys_registry(n_ref, categorical, distinct):
    rng = np.random.default_rng(1)
    values = [f"c{i}" for i in range(distinct)] if categorical else np.linspace(0, 1, distinct)
    a = list(rng.choice(values, n_ref))
    b = list(rng.choice(values, 300))
    if not categorical:
        a, b = [float(x) for x in a], [float(x) for x in b]
    expected = get_stattest(pd.Series(a), pd.Series(b), CAT if categorical else NUM, None).name
    assert drift.select_method(a, b, categorical=categorical) == expected


def test_large_reference_uses_distances_with_their_thresholds():
    a, b = _samples(0.0, n_ref=3000, n_cur=1000)
    got = drift.drift_test(a, b)
    assert got.method == "wasserstein" and got.threshold == 0.1 and not got.drifted
    a, b = _samples(0.05, n_ref=3000, n_cur=1000)
    got = drift.drift_test(a, b)
    ev = _ev(wasserstein_stat_test, a, b)
    assert got.score == pytest.approx(ev.drift_score, abs=1e-9) and got.drifted is bool(ev.drifted) is True


def test_psi_bands():
    assert [drift.psi_band(v) for v in (0.0, 0.0999, 0.1, 0.1999, 0.2, 3.0)] == [
        "none",
        "none",
        "moderate",
        "moderate",
        "significant",
        "significant",
    ]


def test_missing_values_are_dropped_and_bad_input_is_refused():
    got = drift.drift_test([0.1, None, 0.2, math.nan, 0.3] * 3, [0.1, 0.2, 0.3] * 3, method="psi")
    assert got.n_reference == 9 and got.n_current == 9
    with pytest.raises(ValueError, match="non-empty"):
        drift.drift_test([], [1.0])
    with pytest.raises(ValueError, match="expected one of"):
        drift.drift_test([1.0], [1.0], method="kl")
    with pytest.raises(ValueError, match="needs numbers"):
        drift.drift_test(["a"], ["b"], categorical=True, method="ks")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=80),
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=80),
)
def test_property_every_distance_equals_evidently(a, b):
    assert drift.psi(a, b) == pytest.approx(_ev(psi_stat_test, a, b).drift_score, rel=1e-9, abs=1e-9)
    assert drift.jensen_shannon(a, b) == pytest.approx(_ev(jensenshannon_stat_test, a, b).drift_score, abs=1e-9)
    assert drift.wasserstein_normed(a, b) == pytest.approx(
        _ev(wasserstein_stat_test, a, b).drift_score, rel=1e-9, abs=1e-9
    )
    assert drift.ks_test(a, b).p_value == pytest.approx(_ev(ks_stat_test, a, b).drift_score, abs=1e-12)
