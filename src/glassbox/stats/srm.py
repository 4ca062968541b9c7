"""Sample-ratio mismatch: are units split between variants as the weights say? (χ² goodness of fit.)

A mismatch means assignment or logging is broken, so no effect estimate can be trusted; like GrowthBook,
the alarm goes off at p < 0.001 (a strict threshold: the test runs on every look at every experiment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["SRM_THRESHOLD", "SrmResult", "srm_test"]

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class SrmResult:
    statistic: float
    p_value: float
    observed: list[int]
    expected: list[float]
    alarm: bool
    threshold: float = SRM_THRESHOLD

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def srm_test(observed: Sequence[int], weights: Sequence[float], threshold: float = SRM_THRESHOLD) -> SrmResult:
    """χ² goodness of fit of the observed counts per variant against ``weights`` (normalised); equals
    ``scipy.stats.chisquare(observed, expected)``. With no units at all there is nothing to flag (p = 1)."""
    from scipy import stats

    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError(f"need one weight per variant (>= 2), got {len(observed)} counts and {len(weights)} weights")
    if any(w <= 0 for w in weights):
        raise ValueError(f"weights must be > 0, got {list(weights)}")
    obs = [int(x) for x in observed]
    if any(x < 0 for x in obs):
        raise ValueError(f"counts must be >= 0, got {obs}")
    total = sum(obs)
    wsum = float(sum(weights))
    expected = [total * w / wsum for w in weights]
    if total == 0:
        return SrmResult(0.0, 1.0, obs, expected, False, threshold)
    res = stats.chisquare(obs, expected)
    p = float(res.pvalue)
    return SrmResult(float(res.statistic), p, obs, expected, p < threshold, threshold)
