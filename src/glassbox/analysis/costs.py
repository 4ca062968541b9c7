"""Cost statistics over the store: totals, averages, min/max per group, and the trend.

One SQL aggregate per question, the same on SQLite and PostgreSQL. Runs (traces) answer
``by="workflow"`` and ``by="day"``; LLM calls (spans with a cost or tokens) answer
``by="model"`` and ``by="stage"``. A call whose price was unknown has no cost: it is
counted in ``unpriced_calls`` and left out of the sums, never counted as $0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, and_, func, select

from glassbox.errors import GlassboxError, StoreError
from glassbox.store import database
from glassbox.store.schema import LLM_CALL, spans, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store

GROUPINGS = ("model", "workflow", "stage", "day")


@dataclass
class CostGroup:
    """One row of the breakdown: ``count`` is runs (workflow, day) or LLM calls (model, stage)."""

    key: str | None
    count: int
    cost_usd: float
    avg_cost_usd: float | None
    min_cost_usd: float | None
    max_cost_usd: float | None
    tokens_in: int
    tokens_out: int
    share: float | None  # of the window's total cost, 0..1
    unpriced: int = 0  # calls (or runs) with tokens but no price


@dataclass
class CostReport:
    """``glassbox costs`` / ``GET /api/v1/costs``: the window's totals, its groups and its trend."""

    by: str
    since: datetime
    until: datetime
    project: str | None
    runs: int
    cost_usd: float
    avg_cost_per_run: float | None
    min_run_cost: float | None
    max_run_cost: float | None
    success_rate: float | None
    tokens_in: int
    tokens_out: int
    unpriced_calls: int
    sources: dict[str, int]
    groups: list[CostGroup] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    trend_pct: float | None = None  # average cost per run, second half of the window vs first half

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"] = self.since.isoformat() + "Z"
        d["until"] = self.until.isoformat() + "Z"
        return d


def _day(engine_name: str, column: Any) -> Any:
    """The UTC calendar day of a naive UTC datetime column, as ``YYYY-MM-DD`` text."""
    if engine_name == "sqlite":
        return func.strftime("%Y-%m-%d", column)
    return func.to_char(column, "YYYY-MM-DD")


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _opt(value: Any) -> float | None:
    return float(value) if value is not None else None


def cost_report(store: Store, *, days: float = 7, by: str = "model", project: str | None = None,
                until: datetime | None = None, limit: int = 50) -> CostReport:  # fmt: skip
    """Costs of the runs started in the last ``days`` (UTC) before ``until`` (default: now)."""
    if by not in GROUPINGS:
        raise GlassboxError(f"by: expected one of {', '.join(GROUPINGS)}, got {by!r}")
    if not days > 0:
        raise GlassboxError(f"days must be positive, got {days!r}")
    end = until or datetime.now(UTC).replace(tzinfo=None)
    start = end - timedelta(days=days)
    store.ready()
    backend = store.engine.dialect.name
    in_window = [traces.c.started_at >= start, traces.c.started_at < end]
    if project:
        in_window.append(traces.c.project == project)
    span_window = [spans.c.started_at >= start, spans.c.started_at < end]
    if project:
        span_window.append(spans.c.project == project)
    is_call = LLM_CALL  # verbatim, so the partial indexes over calls serve the window
    try:
        with store.engine.connect() as conn:
            totals = conn.execute(select(
                func.count(), func.sum(traces.c.cost_usd), func.avg(traces.c.cost_usd), func.min(traces.c.cost_usd),
                func.max(traces.c.cost_usd), func.sum(traces.c.tokens_in), func.sum(traces.c.tokens_out),
                func.sum((traces.c.status == "complete").cast(Integer)),
                func.sum((traces.c.status.in_(("complete", "failed"))).cast(Integer)),
            ).where(*in_window)).one()  # fmt: skip
            sources = dict(conn.execute(select(traces.c.cost_source, func.count()).where(
                *in_window, traces.c.cost_source.is_not(None)).group_by(traces.c.cost_source)).all())
            unpriced = conn.execute(select(func.count()).where(
                *span_window, spans.c.cost_usd.is_(None), is_call)).scalar_one()
            day = _day(backend, traces.c.started_at)
            daily_rows = conn.execute(select(day, func.count(), func.sum(traces.c.cost_usd)).where(*in_window)
                                      .group_by(day).order_by(day)).all()
            group_rows = _groups(conn, by, backend, in_window, span_window, is_call, limit)
    except Exception as exc:
        if isinstance(exc, GlassboxError):
            raise
        raise StoreError(f"cost query on {database.safe_url(store.url)} failed: {database._short(exc)}") from None
    runs, total, avg, lo, hi, tin, tout, ok, finished = totals
    total_cost = _num(total)
    report = CostReport(
        by=by, since=start, until=end, project=project, runs=int(runs), cost_usd=round(total_cost, 10),
        avg_cost_per_run=_opt(avg), min_run_cost=_opt(lo), max_run_cost=_opt(hi),
        success_rate=(int(ok or 0) / int(finished)) if finished else None,
        tokens_in=int(tin or 0), tokens_out=int(tout or 0), unpriced_calls=int(unpriced), sources=sources,
    )  # fmt: skip
    for key, count, cost, gavg, glo, ghi, gin, gout, gunpriced in group_rows:
        report.groups.append(CostGroup(
            key=key, count=int(count), cost_usd=round(_num(cost), 10), avg_cost_usd=_opt(gavg),
            min_cost_usd=_opt(glo), max_cost_usd=_opt(ghi), tokens_in=int(gin or 0), tokens_out=int(gout or 0),
            share=(_num(cost) / total_cost) if total_cost else None, unpriced=int(gunpriced or 0),
        ))  # fmt: skip
    report.daily = [{"day": d, "runs": int(n), "cost_usd": round(_num(c), 10)} for d, n, c in daily_rows]
    report.trend_pct = _trend(report.daily)
    return report


def _groups(conn: Any, by: str, backend: str, in_window: list[Any], span_window: list[Any], is_call: Any,
            limit: int) -> list[Any]:  # fmt: skip
    if by in ("workflow", "day"):
        t = traces.c
        key = t.workflow if by == "workflow" else _day(backend, t.started_at)
        unpriced = and_(t.cost_usd.is_(None), t.tokens_in.is_not(None)).cast(Integer)
        q = select(key, func.count(), func.sum(t.cost_usd), func.avg(t.cost_usd), func.min(t.cost_usd),
                   func.max(t.cost_usd), func.sum(t.tokens_in), func.sum(t.tokens_out), func.sum(unpriced)
                   ).where(*in_window).group_by(key)  # fmt: skip
    else:
        s = spans.c
        key = s.model if by == "model" else s.name
        unpriced = s.cost_usd.is_(None).cast(Integer)
        q = select(key, func.count(), func.sum(s.cost_usd), func.avg(s.cost_usd), func.min(s.cost_usd),
                   func.max(s.cost_usd), func.sum(s.tokens_in), func.sum(s.tokens_out), func.sum(unpriced)
                   ).where(*span_window, is_call).group_by(key)  # fmt: skip
    if by == "day":
        q = q.order_by(key)
    else:  # most expensive first
        cost = traces.c.cost_usd if by == "workflow" else spans.c.cost_usd
        q = q.order_by(func.coalesce(func.sum(cost), 0).desc(), key)
    return list(conn.execute(q.limit(limit)).all())


def _trend(daily: list[dict[str, Any]]) -> float | None:
    """% change of the average cost per run, second half of the days vs the first half."""
    if len(daily) < 2:
        return None
    half = len(daily) // 2
    first, second = daily[:half], daily[half:]

    def per_run(part: list[dict[str, Any]]) -> float | None:
        n = sum(d["runs"] for d in part)
        return sum(d["cost_usd"] for d in part) / n if n else None

    a, b = per_run(first), per_run(second)
    if a is None or b is None or a == 0:
        return None
    return round(100.0 * (b - a) / a, 1)
