"""Experiment statistics by simulation: false positives over A/A tests near alpha, power near its target.

1,000 simulated A/A tests per method (no true effect) must reject about alpha of the time; 1,000 A/B tests
sized by ``stats.power`` for a known effect must reject about ``power`` of the time. Also: peeking every
batch at the fixed-horizon test inflates false positives, the confidence sequence does not.
Bands: the binomial 99.9% interval around the target (a fair method fails this about once in 1,000 runs).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from _common import Results, log


def band(p: float, n: int, z: float = 3.29) -> tuple[float, float]:
    half = z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def pct(x: float) -> float:
    return 100.0 * x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    from glassbox.stats.power import sample_size_means, sample_size_proportions
    from glassbox.stats.sequential import confidence_sequence
    from glassbox.stats.twosample import two_proportion_z, welch_t

    rng = np.random.default_rng(args.seed)
    res = Results("experiments")
    n_tests, alpha = args.tests, 0.05
    t0 = time.perf_counter()

    # Rates: A/A at a 10% baseline, 5,000 units per arm.
    log(f"{n_tests} A/A tests, two-proportion z")
    hits = 0
    for _ in range(n_tests):
        a, b = rng.binomial(5000, 0.10), rng.binomial(5000, 0.10)
        hits += two_proportion_z(int(a), 5000, int(b), 5000).p_value < alpha
    fpr = hits / n_tests
    lo, hi = band(alpha, n_tests)
    res.figure("A/A false-positive rate, two-proportion z", pct(fpr), "%", f"alpha {alpha}")
    aa_band = f"{100 * lo:.1f}..{100 * hi:.1f}%"
    res.check("A/A false positives (rates) near alpha", pct(fpr), "%", aa_band, lo <= fpr <= hi)

    # Means: A/A with skewed (lognormal) values, 400 per arm.
    log(f"{n_tests} A/A tests, Welch t on lognormal values")
    hits = 0
    for _ in range(n_tests):
        hits += welch_t(rng.lognormal(0, 1, 400), rng.lognormal(0, 1, 400)).p_value < alpha
    fpr = hits / n_tests
    res.figure("A/A false-positive rate, Welch t (lognormal)", pct(fpr), "%", f"alpha {alpha}")
    res.check("A/A false positives (means) near alpha", pct(fpr), "%", aa_band, lo <= fpr <= hi)

    # Power: rates 10% -> 12% at the planned size for 80%.
    n = math.ceil(sample_size_proportions(0.10, 0.02, alpha, 0.8))
    log(f"{n_tests} A/B tests, rates 10% -> 12%, {n} per arm (planned for 80% power)")
    hits = 0
    for _ in range(n_tests):
        a, b = rng.binomial(n, 0.10), rng.binomial(n, 0.12)
        hits += two_proportion_z(int(a), n, int(b), n).p_value < alpha
    power = hits / n_tests
    plo, phi = band(0.8, n_tests)
    res.figure("power, rates 10% -> 12%", pct(power), "%", f"{n} per arm, target 0.80")
    power_band = f"{100 * plo:.1f}..{100 * phi:.1f}%"
    res.check("power (rates) near the planned 80%", pct(power), "%", power_band, plo <= power <= phi)

    # Power: means, d = 0.2, at the planned size for 80%.
    n = math.ceil(sample_size_means(0.2, 1.0, alpha, 0.8))
    log(f"{n_tests} A/B tests, means +0.2 sd, {n} per arm")
    hits = 0
    for _ in range(n_tests):
        hits += welch_t(rng.normal(0, 1, n), rng.normal(0.2, 1, n)).p_value < alpha
    power = hits / n_tests
    res.figure("power, means +0.2 sd", pct(power), "%", f"{n} per arm, target 0.80")
    res.check("power (means) near the planned 80%", pct(power), "%", power_band, plo <= power <= phi)

    # Peeking: 20 looks per A/A test.
    peeks = max(200, n_tests // 5)
    log(f"{peeks} A/A tests looked at 20 times each: fixed-horizon vs confidence sequence")
    naive = seq = 0
    for _ in range(peeks):
        a, b = rng.normal(0, 1, 4000), rng.normal(0, 1, 4000)
        hit_naive = hit_seq = False
        for k in range(200, 4001, 200):
            r = welch_t(a[:k], b[:k])
            hit_naive |= r.p_value < alpha
            hit_seq |= confidence_sequence(r).p_value < alpha
        naive += hit_naive
        seq += hit_seq
    res.figure("peeking 20x, fixed-horizon false-positive rate", pct(naive / peeks), "%", "inflated, as expected")
    res.figure("peeking 20x, confidence-sequence false-positive rate", pct(seq / peeks), "%", f"alpha {alpha}")
    res.check(
        "confidence sequence keeps peeking false positives <= alpha",
        pct(seq / peeks),
        "%",
        f"<= {pct(alpha):g}%",
        seq / peeks <= alpha,
    )
    res.figure("simulation time", time.perf_counter() - t0, "s", "")
    res.emit()


if __name__ == "__main__":
    main()
