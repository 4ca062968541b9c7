"""The asymptotic confidence sequence: its published formula, always wider than the fixed CI, valid under peeking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassbox.stats.sequential import confidence_sequence, cs_half_width, rho_for
from glassbox.stats.twosample import welch_t


def test_half_width_formula_worked_by_hand() -> None:
    alpha, tuning, n, var = 0.05, 5000, 2000, 0.01
    rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)
    assert rho_for(tuning, alpha) == pytest.approx(rho, rel=1e-15)
    s2 = var * n
    by_hand = math.sqrt(s2) * math.sqrt(
        2 * (n * rho**2 + 1) / (n**2 * rho**2) * math.log(math.sqrt(n * rho**2 + 1) / alpha)
    )
    assert cs_half_width(var, n, alpha, tuning) == pytest.approx(by_hand, rel=1e-15)


def test_wider_than_fixed_and_p_value_consistent_with_the_interval() -> None:
    rng = np.random.default_rng(0)
    fixed = welch_t(rng.normal(0, 1, 3000), rng.normal(0.15, 1, 3000))
    seq = confidence_sequence(fixed)
    assert seq.ci_low < fixed.ci_low and seq.ci_high > fixed.ci_high
    assert seq.p_value >= fixed.p_value
    # The always-valid p is the alpha at which the sequence touches 0.
    assert cs_half_width(fixed.extra["se"] ** 2, 6000, seq.p_value) == pytest.approx(abs(fixed.estimate), rel=1e-6)
    assert (seq.ci_low > 0) is (seq.p_value < 0.05)


def test_peeking_every_batch_keeps_false_positives_below_alpha() -> None:
    # A/A tests looked at after every 100 units per arm, 20 looks: the naive CI "finds" effects far more often.
    rng = np.random.default_rng(11)
    naive = seq = 0
    runs = 200
    for _ in range(runs):
        a, b = rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)
        hit_naive = hit_seq = False
        for n in range(100, 2001, 100):
            r = welch_t(a[:n], b[:n])
            hit_naive |= r.p_value < 0.05
            hit_seq |= confidence_sequence(r).p_value < 0.05
        naive += hit_naive
        seq += hit_seq
    assert seq / runs <= 0.05
    assert naive / runs > 0.12
