"""SRM (chi-square goodness of fit) and the contingency chi-square against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from glassbox.stats.categorical import chi2_contingency_test
from glassbox.stats.srm import srm_test
from glassbox.stats.twosample import two_proportion_z


@pytest.mark.parametrize(
    ("counts", "weights"), [([5000, 5100], [0.5, 0.5]), ([1000, 2100, 980], [1, 2, 1]), ([4000, 6000], [0.4, 0.6])]
)
def test_srm_equals_scipy_chisquare(counts: list[int], weights: list[float]) -> None:
    r = srm_test(counts, weights)
    exp = np.array(weights) / sum(weights) * sum(counts)
    ref = stats.chisquare(counts, exp)
    assert r.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert r.alarm is bool(ref.pvalue < 0.001)


def test_srm_detects_skewed_assignment_and_passes_a_fair_one() -> None:
    rng = np.random.default_rng(7)
    fair = rng.binomial(1, 0.5, 20000)
    assert not srm_test([int((fair == 0).sum()), int(fair.sum())], [0.5, 0.5]).alarm
    skewed = rng.binomial(1, 0.52, 20000)  # a 52/48 split where 50/50 was configured
    assert srm_test([int((skewed == 0).sum()), int(skewed.sum())], [0.5, 0.5]).alarm


def test_srm_bad_input() -> None:
    with pytest.raises(ValueError, match="one weight per variant"):
        srm_test([1, 2], [1.0])
    assert srm_test([0, 0], [1, 1]).p_value == 1.0


@pytest.mark.parametrize("table", [[[30, 70], [45, 55]], [[10, 90], [12, 88], [30, 70]], [[5, 5, 3], [2, 9, 4]]])
@pytest.mark.parametrize("correction", [False, True])
def test_chi2_contingency_equals_scipy(table: list, correction: bool) -> None:
    r = chi2_contingency_test(table, correction=correction)
    ref = stats.chi2_contingency(np.array(table), correction=correction)
    assert r.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert r.extra["dof"] == ref.dof


def test_chi2_without_correction_is_z_squared() -> None:
    r = chi2_contingency_test([[30, 70], [45, 55]])
    z = two_proportion_z(30, 100, 45, 100)
    assert r.statistic == pytest.approx(z.statistic**2, abs=1e-9)
    assert r.p_value == pytest.approx(z.p_value, abs=1e-12)
    assert r.estimate == pytest.approx(0.15)
