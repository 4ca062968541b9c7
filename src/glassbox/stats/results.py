"""The one result shape of a statistical test, shared by gates, experiments and drift."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TestResult:
    """A test's outcome. ``estimate`` is always *b minus a* (candidate/treatment minus baseline/control),
    with its confidence interval ``[ci_low, ci_high]`` at ``confidence``; NaN where a figure is undefined."""

    method: str
    statistic: float
    p_value: float
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    n_a: int
    n_b: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TestResult.__test__ = False  # type: ignore[attr-defined]  # pytest: not a test class
