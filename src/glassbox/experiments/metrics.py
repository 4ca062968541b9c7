"""The metrics an experiment reads from its runs, and how each is tested.

Every run (trace) of an exposed unit is one observation, read from the traces table through the
query API's filters. ``kind`` picks the test: ``proportion`` (two-proportion z, χ² for more than two
variants), ``mean`` (Welch's t, with the relative lift by the delta method), ``ratio`` (delta method on
sums over runs), ``quantile`` (bootstrap interval on the difference of percentiles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from glassbox.errors import QueryError
from glassbox.store.schema import traces

if TYPE_CHECKING:
    from glassbox.analysis.query import Query


@dataclass(frozen=True, slots=True)
class Run:
    variant: str
    unit: str | None
    status: str
    duration_ms: float | None
    cost_usd: float | None
    quality: float | None
    gate_passed: bool | None
    started_at: datetime | None


Value = Callable[[Run], float | None]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: str  # proportion | mean | ratio | quantile
    higher_is_better: bool
    label: str
    value: Value | None = None  # per-run value (proportion: 0/1; mean; quantile)
    numerator: Value | None = None  # ratio metrics
    denominator: Value | None = None
    q: float = 95.0


def _finished(r: Run) -> bool:
    return r.status in ("complete", "failed")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "success_rate",
            "proportion",
            True,
            "success rate",
            value=lambda r: (1.0 if r.status == "complete" else 0.0) if _finished(r) else None,
        ),
        Metric(
            "error_rate",
            "proportion",
            False,
            "error rate",
            value=lambda r: (1.0 if r.status == "failed" else 0.0) if _finished(r) else None,
        ),
        Metric(
            "pass_rate",
            "proportion",
            True,
            "quality gate pass rate",
            value=lambda r: None if r.gate_passed is None else float(r.gate_passed),
        ),
        Metric("avg_quality", "mean", True, "quality score", value=lambda r: r.quality),
        Metric("avg_cost_usd", "mean", False, "cost per run (USD)", value=lambda r: r.cost_usd),
        Metric("avg_duration_ms", "mean", False, "duration (ms)", value=lambda r: r.duration_ms),
        Metric("p95_duration_ms", "quantile", False, "p95 duration (ms)", value=lambda r: r.duration_ms, q=95.0),
        Metric(
            "cost_per_success",
            "ratio",
            False,
            "cost per successful run (USD)",
            numerator=lambda r: r.cost_usd or 0.0,
            denominator=lambda r: 1.0 if r.status == "complete" else 0.0,
        ),
        Metric(
            "quality_per_dollar",
            "ratio",
            True,
            "quality per dollar",
            numerator=lambda r: r.quality,
            denominator=lambda r: r.cost_usd,
        ),
    )
}


def metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise QueryError(f"unknown experiment metric {name!r}; known: {', '.join(METRICS)}") from None


def load_runs(q: Query, experiment: str, **filters: Any) -> list[Run]:
    """Every run recorded in ``experiment`` (any variant), oldest first."""
    t = traces.c
    rows = q.rows(
        select(t.variant, t.user_id, t.status, t.duration_ms, t.cost_usd, t.quality_score, t.gate_passed, t.started_at)
        .where(t.variant.is_not(None))
        .order_by(t.started_at),
        experiment=experiment,
        **filters,
    )
    return [Run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]


def values(runs: Sequence[Run], m: Metric) -> list[float]:
    assert m.value is not None
    out = []
    for r in runs:
        v = m.value(r)
        if v is not None:
            out.append(float(v))
    return out


def ratio_values(runs: Sequence[Run], m: Metric) -> tuple[list[float], list[float]]:
    assert m.numerator is not None
    assert m.denominator is not None
    num, den = [], []
    for r in runs:
        x, y = m.numerator(r), m.denominator(r)
        if x is not None and y is not None:
            num.append(float(x))
            den.append(float(y))
    return num, den
