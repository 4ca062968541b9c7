"""Cost statistics over the store: totals, averages, min/max per group, and the trend.

Two SQL aggregates per report, the same on SQLite and PostgreSQL. Runs (traces) answer
``by="workflow"`` and ``by="day"``; LLM calls (spans with a cost or tokens) answer
``by="model"`` and ``by="stage"``. A call whose price was unknown has no cost: it is
counted in ``unpriced_calls`` and left out of the sums, never counted as $0.

One window rule for every grouping: a report covers the runs that STARTED in the window, and
a call belongs to the window when its run does (whenever the call itself started). So the
groups of ``by="model"`` / ``by="stage"`` add up to the total, as ``by="workflow"`` /
``by="day"`` do, even for a run that straddles the window's edge.

``trend_pct`` compares the average cost per run of the window's second half (by run start
time) with its first half: the halves are halves of the window, not of its day buckets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, and_, exists, func, select

from glassbox.errors import GlassboxError, StoreError
from glassbox.store import database
from glassbox.store import dialect as sql
from glassbox.store.schema import LLM_CALL, UNPRICED_CALL, spans, traces

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
    return sql.day(engine_name, column)


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def cost_report(
    store: Store,
    *,
    days: float = 7,
    by: str = "model",
    project: str | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> CostReport:
    """Costs of the runs started in the last ``days`` (UTC) before ``until`` (default: now)."""
    if by not in GROUPINGS:
        raise GlassboxError(f"by: expected one of {', '.join(GROUPINGS)}, got {by!r}")
    if not days > 0:
        raise GlassboxError(f"days must be positive, got {days!r}")
    end = until or datetime.now(UTC).replace(tzinfo=None)
    start = end - timedelta(days=days)
    store.ready()
    width, run_rows, call_rows, unpriced = _fetch(store, by, start, end, project)
    whole = _Fold()
    sources: dict[str, int] = {}
    daily: dict[str, _Fold] = {}
    groups: dict[Any, _Fold] = {}
    halves = (_Fold(), _Fold())
    for row in run_rows:
        d, source, half = row[0], row[1], row[2]
        figures = row[width:]
        whole.add(figures)
        daily.setdefault(d, _Fold()).add(figures)
        halves[1 if half else 0].add(figures)
        if source is not None:
            sources[source] = sources.get(source, 0) + int(figures[0])
        if by == "workflow":
            groups.setdefault(row[3], _Fold()).add(figures)
    if by == "day":
        groups = daily
    elif call_rows is not None:
        for key, *figures in call_rows:
            groups[key] = _Fold()
            groups[key].add((*figures[:7], 0, 0, figures[7]))
    total_cost = whole.cost
    report = CostReport(
        by=by,
        since=start,
        until=end,
        project=project,
        runs=whole.count,
        cost_usd=round(total_cost, 10),
        avg_cost_per_run=whole.avg,
        min_run_cost=whole.lo,
        max_run_cost=whole.hi,
        success_rate=(whole.ok / whole.finished) if whole.finished else None,
        tokens_in=whole.tokens_in,
        tokens_out=whole.tokens_out,
        unpriced_calls=int(unpriced),
        sources=sources,
    )
    # By day: in date order; otherwise the most expensive first.
    order = sorted(groups) if by == "day" else sorted(groups, key=lambda k: (-groups[k].cost, str(k)))
    for key in order[:limit]:
        g = groups[key]
        report.groups.append(
            CostGroup(
                key=key,
                count=g.count,
                cost_usd=round(g.cost, 10),
                avg_cost_usd=g.avg,
                min_cost_usd=g.lo,
                max_cost_usd=g.hi,
                tokens_in=g.tokens_in,
                tokens_out=g.tokens_out,
                share=(g.cost / total_cost) if total_cost else None,
                unpriced=g.unpriced,
            )
        )
    report.daily = [{"day": d, "runs": daily[d].count, "cost_usd": round(daily[d].cost, 10)} for d in sorted(daily)]
    report.trend_pct = _trend(*halves)
    return report


def _fetch(
    store: Store, by: str, start: datetime, end: datetime, project: str | None
) -> tuple[int, list[Any], list[Any] | None, int]:
    """(width of the run groups' keys, run groups, call groups or None, unpriced calls) of the window."""
    backend = store.engine.dialect.name
    t, sp = traces.c, spans.c
    in_window = [t.started_at >= start, t.started_at < end]
    if project:
        in_window.append(t.project == project)
    # A call is in the window when its run is (the module's one window rule). A call starts after
    # its run, so `started_at >= start` keeps the partial call indexes in use; the runs' ids decide.
    # EXISTS, not IN: the planner then walks the (small) partial call index and looks each run up.
    span_window = [sp.started_at >= start, exists().where(t.trace_id == sp.trace_id, *in_window)]
    if project:
        span_window.insert(1, sp.project == project)
    # One pass over the window's runs answers the totals, the cost sources, the days and (by workflow
    # or day) the groups: grouped by (day, source[, workflow]) and folded here. A window of 100,000
    # runs took one scan instead of four (~200 ms each on SQLite).
    day = _day(backend, t.started_at)
    second_half = (t.started_at >= start + (end - start) / 2).cast(Integer)
    keys = [day, t.cost_source, second_half] + ([t.workflow] if by == "workflow" else [])
    unpriced_run = and_(t.cost_usd.is_(None), t.tokens_in.is_not(None)).cast(Integer)
    run_stmt = (
        select(
            *keys,
            func.count(),
            func.sum(t.cost_usd),
            func.count(t.cost_usd),
            func.min(t.cost_usd),
            func.max(t.cost_usd),
            func.sum(t.tokens_in),
            func.sum(t.tokens_out),
            func.sum((t.status == "complete").cast(Integer)),
            func.sum(t.status.in_(("complete", "failed")).cast(Integer)),
            func.sum(unpriced_run),
        )
        .where(*in_window)
        .group_by(*keys)
    )
    try:
        with store.engine.connect() as conn:
            run_rows = conn.execute(run_stmt).all()
            call_rows = None
            if by in ("model", "stage"):
                key = sp.model if by == "model" else sp.name
                call_rows = conn.execute(
                    select(
                        key,
                        func.count(),
                        func.sum(sp.cost_usd),
                        func.count(sp.cost_usd),
                        func.min(sp.cost_usd),
                        func.max(sp.cost_usd),
                        func.sum(sp.tokens_in),
                        func.sum(sp.tokens_out),
                        func.sum(sp.cost_usd.is_(None).cast(Integer)),
                    )
                    .where(*span_window, LLM_CALL)
                    .group_by(key)
                ).all()
                unpriced = sum(int(r[8] or 0) for r in call_rows)
            else:
                unpriced = conn.execute(select(func.count()).where(*span_window, UNPRICED_CALL)).scalar_one()
    except Exception as exc:
        if isinstance(exc, GlassboxError):
            raise
        raise StoreError(f"cost query on {database.safe_url(store.url)} failed: {database._short(exc)}") from None
    return len(keys), run_rows, call_rows, int(unpriced)


class _Fold:
    """Sums partial aggregates (count, sum, count of costs, min, max, tokens in/out, complete, finished,
    unpriced) of several SQL groups into one."""

    __slots__ = ("_costs", "count", "finished", "hi", "lo", "ok", "priced", "tokens_in", "tokens_out", "unpriced")

    def __init__(self) -> None:
        self.count = self.priced = self.tokens_in = self.tokens_out = self.ok = self.finished = self.unpriced = 0
        self._costs: list[float] = []
        self.lo: float | None = None
        self.hi: float | None = None

    def add(self, figures: Any) -> None:
        count, cost, priced, lo, hi, tin, tout, ok, finished, unpriced = figures
        self.count += int(count)
        if cost is not None:
            self._costs.append(float(cost))
        self.priced += int(priced or 0)
        if lo is not None:
            self.lo = float(lo) if self.lo is None else min(self.lo, float(lo))
        if hi is not None:
            self.hi = float(hi) if self.hi is None else max(self.hi, float(hi))
        self.tokens_in += int(tin or 0)
        self.tokens_out += int(tout or 0)
        self.ok += int(ok or 0)
        self.finished += int(finished or 0)
        self.unpriced += int(unpriced or 0)

    @property
    def cost(self) -> float:
        """The sum of the groups' costs, correctly rounded (math.fsum): totals and groups agree to the cent."""
        return math.fsum(self._costs)

    @property
    def avg(self) -> float | None:
        """Average over the priced items (SQL's avg: items without a cost are left out, not $0)."""
        return self.cost / self.priced if self.priced else None


def _trend(first: _Fold, second: _Fold) -> float | None:
    """% change of the average cost per run (cost over every run), the window's second half vs its first."""
    if not first.count or not second.count or first.cost == 0:
        return None
    a, b = first.cost / first.count, second.cost / second.count
    return round(100.0 * (b - a) / a, 1)
