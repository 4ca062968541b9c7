"""The query API: questions about runs, asked the same way by Python, the CLI and the server.

``gb.query()`` (or ``open_query(store)``) returns a ``Query``. Every method takes the trace
filters of ``analysis.filters`` as keyword arguments (``workflow="qa", since="7d", tag="prod"``)
and returns JSON-ready values. Aggregates run in SQL; percentiles are computed in Python from
the sorted durations with linear interpolation (numpy's default), so SQLite and PostgreSQL
give the same numbers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, and_, case, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from glassbox.analysis.filters import check, where
from glassbox.errors import GlassboxError, QueryError, StoreError
from glassbox.model import GAP_RATIO  # the query API's default threshold (re-exported)
from glassbox.store import database
from glassbox.store import dialect as sql
from glassbox.store.schema import decisions, scores, spans, traces

if TYPE_CHECKING:
    from sqlalchemy import Select

    from glassbox.model import Trace
    from glassbox.store.store import Store

GROUP_DIMS = (
    "workflow",
    "intent",
    "domain",
    "status",
    "project",
    "environment",
    "release",
    "experiment",
    "variant",
    "service",
    "user_id",
    "day",
)
METRICS = (
    "runs",
    "complete",
    "failed",
    "success_rate",
    "avg_duration_ms",
    "max_duration_ms",
    "total_cost_usd",
    "avg_cost_usd",
    "avg_quality",
    "pass_rate",
    "tokens_in",
    "tokens_out",
    "flagged",
)
SUMMARY_COLUMNS = (
    "trace_id",
    "project",
    "name",
    "workflow",
    "intent",
    "domain",
    "status",
    "started_at",
    "duration_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "cost_source",
    "quality_score",
    "gate_passed",
    "flagged_for_review",
    "review_notes",
    "input",
    "error",
    "tags",
)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) of ascending values, linear interpolation (numpy's default)."""
    n = len(sorted_values)
    if n == 0:
        return None
    if not 0 <= p <= 100:
        raise QueryError(f"percentiles must be between 0 and 100, got {p!r}")
    rank = (n - 1) * p / 100.0
    lo = int(rank)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo))


@dataclass
class Page:
    """One page of run summaries, newest first; pass ``next_cursor`` back for the next page."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """``for run in q.traces(): ...`` walks this page's items."""
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _encode_cursor(started_at: datetime | None, trace_id: str) -> str:
    raw = json.dumps([started_at.isoformat() if started_at else None, trace_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, trace_id = json.loads(raw)
        return (datetime.fromisoformat(when) if when else None), str(trace_id)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise QueryError(f"cursor: not a cursor this API returned: {cursor!r}") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def summary_row(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["started_at"] = _iso(d.get("started_at"))
    d["flagged_for_review"] = bool(d.get("flagged_for_review"))
    return d


def _rate(num: Any, den: Any) -> float | None:
    return (float(num or 0) / float(den)) if den else None


def _ratio(value: Any) -> float | None:
    return None if value is None else float(value)


class Query:
    """Questions about the runs in one store."""

    def __init__(self, store: Store, *, owned: bool = False) -> None:
        self.store = store
        self._owned = owned

    def close(self) -> None:
        if self._owned:
            self.store.close()

    def __enter__(self) -> Query:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.store.engine.dialect.name

    def _where(self, filters: dict[str, Any]) -> Any:
        return where(check(filters), self.dialect)

    def _rows(self, stmt: Any) -> list[Any]:
        self.store.ready()
        try:
            with self.store.engine.connect() as conn:
                return list(conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            raise StoreError(f"query on {database.safe_url(self.store.url)} failed: {database._short(exc)}") from None

    def rows(self, stmt: Select[Any], /, **filters: Any) -> list[Any]:
        """The rows (SQLAlchemy ``Row`` tuples) of ``stmt``, a SELECT over the ``traces`` table, with the trace
        filters added to its WHERE clause: ``q.rows(select(traces.c.variant), experiment="prompt-v2", since="7d")``.

        For features built on the query API that need columns none of its methods returns (an experiment's runs,
        per unit). The filters are checked as every method checks them (an unknown name or a malformed value is a
        QueryError); a failing store is a StoreError naming the store.
        """
        return self._rows(stmt.where(self._where(filters)))

    def _day(self, column: Any) -> Any:
        return sql.day(self.dialect, column)

    # -- runs ----------------------------------------------------------------------------------
    def summary(self, **filters: Any) -> dict[str, Any]:
        """Runs, complete/failed, success rate, duration avg and percentiles, cost, quality, pass rate."""
        t = traces.c
        cond = self._where(filters)
        ((runs, complete, failed, avg_ms, total_cost, avg_cost, avg_q, passed, gated, flagged, tin, tout),) = (
            self._rows(
                select(
                    func.count(),
                    func.sum(case((t.status == "complete", 1), else_=0)),
                    func.sum(case((t.status == "failed", 1), else_=0)),
                    func.avg(t.duration_ms),
                    func.sum(t.cost_usd),
                    func.avg(t.cost_usd),
                    func.avg(t.quality_score),
                    func.sum(case((t.gate_passed.is_(True), 1), else_=0)),
                    func.count(t.gate_passed),
                    func.sum(case((t.flagged_for_review.is_(True), 1), else_=0)),
                    func.sum(t.tokens_in),
                    func.sum(t.tokens_out),
                ).where(cond)
            )
        )
        durations = [
            r[0]
            for r in self._rows(select(t.duration_ms).where(cond, t.duration_ms.is_not(None)).order_by(t.duration_ms))
        ]
        finished = int(complete or 0) + int(failed or 0)
        from glassbox.analysis.feedback import aggregate

        fb = aggregate(self.store, ("feedback", "avg_rating", "positive_share"), cond)[None]
        return {
            **fb,
            "runs": int(runs),
            "complete": int(complete or 0),
            "failed": int(failed or 0),
            "success_rate": _rate(complete, finished),
            "avg_duration_ms": _ratio(avg_ms),
            "p50_duration_ms": percentile(durations, 50),
            "p95_duration_ms": percentile(durations, 95),
            "p99_duration_ms": percentile(durations, 99),
            "total_cost_usd": float(total_cost or 0.0),
            "avg_cost_usd": _ratio(avg_cost),
            "avg_quality": _ratio(avg_q),
            "pass_rate": _rate(passed, gated),
            "flagged": int(flagged or 0),
            "tokens_in": int(tin or 0),
            "tokens_out": int(tout or 0),
        }

    def traces(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        **filters: Any,
    ) -> Page:
        """Run summaries, newest first, ``limit`` per page (keyset pagination: stable under inserts)."""
        if not 1 <= int(limit) <= 10_000:
            raise QueryError(f"limit: expected 1 to 10000, got {limit!r}")
        t = traces.c
        cond = self._where(filters)
        after = _decode_cursor(cursor) if cursor else None
        items: list[dict[str, Any]] = []
        last: tuple[datetime | None, str] | None = after
        chunk = limit if predicate is None else max(limit * 4, 200)
        while True:
            page_cond = [cond]
            if last is not None:
                at, tid = last
                page_cond.append(or_(t.started_at < at, and_(t.started_at == at, t.trace_id > tid)))
            # Every stored run has a start time; ordering by it alone lets the (filter, started_at) indexes
            # return the newest rows without sorting the whole match.
            rows = self._rows(
                select(*[t[c] for c in SUMMARY_COLUMNS])
                .where(*page_cond, t.started_at.is_not(None))
                .order_by(t.started_at.desc(), t.trace_id)
                .limit(chunk + 1)
            )
            more = len(rows) > chunk
            for row in rows[:chunk]:
                last = (row.started_at, row.trace_id)
                item = summary_row(row)
                if predicate is None or predicate(item):
                    items.append(item)
                    if len(items) == limit:
                        has_more = more or row is not rows[:chunk][-1]
                        return Page(items, _encode_cursor(*last) if has_more else None)
            if not more:
                return Page(items, None)

    def trace(self, trace_id: str, *, project: str | None = None) -> Trace:
        """One run, whole (a unique id prefix of 4+ characters works too), of ``project`` only if given."""
        return self.store.get_trace(trace_id, project=project)

    def flagged_for_review(self, *, limit: int = 100, **filters: Any) -> list[dict[str, Any]]:
        """Runs flagged for review (by calibration rules or by people), newest first."""
        return self.traces(limit=limit, **{**filters, "flagged": True}).items

    # -- comparing two runs --------------------------------------------------------------------
    def compare(self, a: str, b: str) -> dict[str, Any]:
        """What changed from run ``a`` to run ``b``: quality, cost, duration, stages, decisions, dimensions."""
        from glassbox.analysis.compare import compare_traces

        return compare_traces(self.trace(a), self.trace(b))

    # -- stages and latency --------------------------------------------------------------------
    def failed_stages(self, *, limit: int = 20, **filters: Any) -> list[dict[str, Any]]:
        """Stages that failed most, with their error types, share of failures and an example run."""
        s = spans.c
        cond = self._where(filters)
        in_runs = s.trace_id.in_(select(traces.c.trace_id).where(cond))
        failed = case((s.status == "error", 1), else_=0)
        rows = self._rows(
            select(
                s.name,
                s.kind,
                func.sum(failed),
                func.count(),
                func.max(s.started_at),
                func.count(func.distinct(case((s.status == "error", s.trace_id)))),
            )
            .where(in_runs, s.kind != "trace")
            .group_by(s.name, s.kind)
            .having(func.sum(failed) > 0)
            .order_by(func.sum(failed).desc(), s.name)
            .limit(limit)
        )
        out = []
        for name, kind, n_failed, n_total, last_at, n_runs in rows:
            errors = self._rows(
                select(s.error_type, func.count(), func.max(s.trace_id))
                .where(in_runs, s.name == name, s.status == "error")
                .group_by(s.error_type)
                .order_by(func.count().desc())
                .limit(3)
            )
            out.append(
                {
                    "stage": name,
                    "kind": kind,
                    "failures": int(n_failed),
                    "runs": int(n_runs),
                    "executions": int(n_total),
                    "failure_rate": _rate(n_failed, n_total),
                    "last_failed_at": _iso(last_at),
                    "errors": [{"type": et, "count": int(n), "example_trace_id": tid} for et, n, tid in errors],
                }
            )
        return out

    def failures(self, *, limit: int = 100, **filters: Any) -> list[dict[str, Any]]:
        """Each failed stage, newest first: stage, kind, error type and message, trace id, span id, time
        (``failed_stages`` aggregates these per stage)."""
        from glassbox.analysis.run_metrics import failures

        return failures(self.store, self._where(filters), limit=limit)

    def latency(
        self, by: str = "workflow", percentiles: Iterable[float] = (50, 95, 99), **filters: Any
    ) -> list[dict[str, Any]]:
        """Duration percentiles (ms) per workflow, stage or model, slowest (highest last percentile) first."""
        ps = [float(p) for p in percentiles]
        for p in ps:
            if not 0 <= p <= 100:
                raise QueryError(f"percentiles must be between 0 and 100, got {p:g}")
        cond = self._where(filters)
        if by == "workflow":
            key, dur = traces.c.workflow, traces.c.duration_ms
            stmt = select(key, dur).where(cond, dur.is_not(None))
        elif by in ("stage", "model"):
            s = spans.c
            key, dur = (s.name if by == "stage" else s.model), s.duration_ms
            stmt = select(key, dur).where(
                s.trace_id.in_(select(traces.c.trace_id).where(cond)),
                dur.is_not(None),
                s.kind != "trace",
                *([s.model.is_not(None)] if by == "model" else []),
            )
        else:
            raise QueryError(f"latency by: expected workflow, stage or model, got {by!r}")
        groups: dict[Any, list[float]] = {}
        for k, d in self._rows(stmt.order_by(key, dur)):
            groups.setdefault(k, []).append(float(d))
        out = []
        for k, values in groups.items():
            row: dict[str, Any] = {
                by: k,
                "count": len(values),
                "avg_ms": sum(values) / len(values),
                "max_ms": values[-1],
            }
            for p in ps:
                row[f"p{p:g}_ms"] = percentile(values, p)
            out.append(row)
        last = f"p{ps[-1]:g}_ms" if ps else "max_ms"
        out.sort(key=lambda r: (-(r[last] or 0.0), str(r[by])))
        return out

    # -- grouping and trends -------------------------------------------------------------------
    def _metric_columns(self) -> dict[str, Any]:
        t = traces.c
        complete = func.sum(case((t.status == "complete", 1), else_=0))
        failed = func.sum(case((t.status == "failed", 1), else_=0))
        return {
            "runs": func.count(),
            "complete": complete,
            "failed": failed,
            "success_rate": complete.cast(Float) / func.nullif(complete + failed, 0),
            "avg_duration_ms": func.avg(t.duration_ms),
            "max_duration_ms": func.max(t.duration_ms),
            "total_cost_usd": func.sum(t.cost_usd),
            "avg_cost_usd": func.avg(t.cost_usd),
            "avg_quality": func.avg(t.quality_score),
            "pass_rate": func.sum(case((t.gate_passed.is_(True), 1), else_=0)).cast(Float)
            / func.nullif(func.count(t.gate_passed), 0),
            "tokens_in": func.sum(t.tokens_in),
            "tokens_out": func.sum(t.tokens_out),
            "flagged": func.sum(case((t.flagged_for_review.is_(True), 1), else_=0)),
        }

    def group_by(
        self,
        dim: str,
        metrics: Sequence[str] = ("runs", "success_rate", "avg_duration_ms", "avg_cost_usd", "avg_quality"),
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """One row per value of ``dim`` (workflow, intent, domain, status, release, day, …) with ``metrics``."""
        if dim not in GROUP_DIMS:
            raise QueryError(f"group by: expected one of {', '.join(GROUP_DIMS)}, got {dim!r}")
        from glassbox.analysis import run_metrics as rm
        from glassbox.analysis.feedback import FEEDBACK_METRICS, aggregate, empty

        known = METRICS + FEEDBACK_METRICS + rm.RUN_METRICS
        unknown = [m for m in metrics if m not in known]
        if unknown:
            raise QueryError(f"unknown metric {unknown[0]!r}; known: {', '.join(known)}")
        run_metrics = [m for m in metrics if m in METRICS]
        fb_metrics = [m for m in metrics if m in FEEDBACK_METRICS]  # feedback joins in its own grouped query
        span_metrics = [m for m in metrics if m in rm.RUN_METRICS]  # stages and signals: their own queries too
        key = self._day(traces.c.started_at) if dim == "day" else traces.c[dim]
        cols = self._metric_columns()
        cond = self._where(filters)
        rows = self._rows(
            select(key, *[cols[m] for m in run_metrics])
            .where(cond)
            .group_by(key)
            .order_by(key if dim == "day" else func.count().desc(), key)
        )
        fb = aggregate(self.store, fb_metrics, cond, key) if fb_metrics else {}
        per_run = rm.aggregate(self.store, span_metrics, cond, key) if span_metrics else {}
        out = []
        for row in rows:
            d: dict[str, Any] = {dim: row[0]}
            for m, v in zip(run_metrics, row[1:], strict=True):
                d[m] = (
                    None
                    if v is None
                    else (
                        int(v)
                        if m in ("runs", "complete", "failed", "flagged", "tokens_in", "tokens_out")
                        else float(v)
                    )
                )
            d.update(fb.get(row[0], empty(fb_metrics)) if fb_metrics else {})
            d.update({**rm.empty(span_metrics), **per_run.get(row[0], {})} if span_metrics else {})
            out.append({dim: row[0], **{m: d[m] for m in metrics}})
        return out

    def quality_trend(self, days: float = 30, by: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Per UTC day (and per ``by`` value): runs, average quality, pass rate, success rate.

        Ordered by day, then by the ``by`` value (by code point, as Python sorts text), runs without one last."""
        if by is not None and by not in GROUP_DIMS:
            raise QueryError(f"quality trend by: expected one of {', '.join(GROUP_DIMS)}, got {by!r}")
        since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=float(days))
        f = {**filters}
        f.setdefault("since", since)
        day = self._day(traces.c.started_at)
        keys = [day] + ([traces.c[by]] if by and by != "day" else [])
        cols = self._metric_columns()
        rows = self._rows(
            select(*keys, cols["runs"], cols["avg_quality"], cols["pass_rate"], cols["success_rate"])
            .where(self._where(f))
            .group_by(*keys)
        )
        # One order on every backend (PostgreSQL puts NULLs last and sorts text by locale, SQLite neither):
        # day ascending, then the group's value by code point, runs without a value last.
        rows = sorted(rows, key=lambda r: (str(r[0]), *((r[1] is None, str(r[1] or "")) if len(keys) == 2 else ())))
        out = []
        for row in rows:
            d: dict[str, Any] = {"day": row[0]}
            if len(keys) == 2:
                d[by] = row[1]  # type: ignore[index]
            runs, avg_q, pass_rate, success = row[len(keys) :]
            d.update(
                runs=int(runs), avg_quality=_ratio(avg_q), pass_rate=_ratio(pass_rate), success_rate=_ratio(success)
            )
            out.append(d)
        return out

    def cost_stats(
        self, by: str = "workflow", days: float = 7, project: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """Totals, averages, min/max and trend of cost by model, workflow, stage or day (``glassbox costs``)."""
        from glassbox.analysis.costs import cost_report

        try:
            return cost_report(self.store, days=days, by=by, project=project, limit=limit).to_dict()
        except StoreError:
            raise
        except GlassboxError as exc:
            raise QueryError(str(exc)) from None

    # -- patterns ------------------------------------------------------------------------------
    def principle_patterns(self, min_runs: int = 3, *, threshold: float = GAP_RATIO, **filters: Any) -> dict[str, Any]:
        """Which score dimensions ("principles") fail most, overall and per intent and domain.

        A dimension fails in a run when its value is below ``threshold`` x the score's maximum
        (1.0 when unset). Only dimensions seen in at least ``min_runs`` runs are reported.
        """
        t, sc = traces.c, scores.c
        rows = self._rows(
            select(t.trace_id, t.intent, t.domain, sc.name, sc.max, sc.dimensions, sc.at_ns)
            .join(scores, scores.c.trace_id == t.trace_id)
            .where(self._where(filters), sc.dimensions.is_not(None))
            .order_by(t.trace_id, sc.at_ns)
        )
        # One score per run: its latest "quality" score, else its earliest (as Trace.quality_score picks).
        chosen: dict[str, tuple[Any, ...]] = {}
        for tid, intent, domain, name, mx, dims, _at in rows:  # in time order per run
            if name == "quality" or tid not in chosen:
                chosen[tid] = (intent, domain, name, mx, dims)
        tallies: dict[tuple[str, str | None, str], list[float]] = {}  # (scope, value, dimension) -> [fails, runs, sum]
        for intent, domain, _name, mx, raw_dims in chosen.values():
            dims = json.loads(raw_dims) if isinstance(raw_dims, str) else raw_dims
            limit = threshold * (mx if mx else 1.0)
            for dim, value in (dims or {}).items():
                if not isinstance(value, (int, float)):
                    continue
                fail = 1.0 if value < limit else 0.0
                for scope, scope_value in (("overall", None), ("intent", intent), ("domain", domain)):
                    if scope != "overall" and scope_value is None:
                        continue
                    tally = tallies.setdefault((scope, scope_value, dim), [0.0, 0.0, 0.0])
                    tally[0] += fail
                    tally[1] += 1
                    tally[2] += float(value)

        def rows_for(scope: str) -> list[dict[str, Any]]:
            out = []
            for (sc_name, sc_value, dim), (fails, runs, total) in tallies.items():
                if sc_name != scope or runs < min_runs:
                    continue
                row = {
                    "principle": dim,
                    "runs": int(runs),
                    "fail_count": int(fails),
                    "fail_rate": fails / runs,
                    "avg": total / runs,
                }
                if scope != "overall":
                    row[scope] = sc_value
                out.append(row)
            out.sort(key=lambda r: (-r["fail_rate"], -r["fail_count"], r["principle"], str(r.get(scope))))
            return out

        return {
            "threshold": threshold,
            "min_runs": min_runs,
            "overall": rows_for("overall"),
            "by_intent": rows_for("intent"),
            "by_domain": rows_for("domain"),
        }

    def models(self, **filters: Any) -> list[dict[str, Any]]:
        """Per model: LLM calls, runs that used it, their cost and tokens, and those runs' average quality
        (so "cost per quality point" compares models). Most expensive first."""
        s, t = spans.c, traces.c
        calls = (
            select(
                s.model.label("model"),
                s.trace_id.label("trace_id"),
                func.count().label("calls"),
                func.sum(s.cost_usd).label("cost"),
                func.sum(s.tokens_in).label("tin"),
                func.sum(s.tokens_out).label("tout"),
            )
            .where(
                s.model.is_not(None),
                s.kind != "trace",
                or_(s.cost_usd.is_not(None), s.tokens_in.is_not(None), s.tokens_out.is_not(None)),
            )
            .group_by(s.model, s.trace_id)
            .subquery()
        )
        rows = self._rows(
            select(
                calls.c.model,
                func.count(),
                func.sum(calls.c.calls),
                func.sum(calls.c.cost),
                func.sum(calls.c.tin),
                func.sum(calls.c.tout),
                func.avg(t.quality_score),
                func.count(t.quality_score),
            )
            .join(traces, traces.c.trace_id == calls.c.trace_id)
            .where(self._where(filters))
            .group_by(calls.c.model)
            .order_by(func.sum(calls.c.cost).desc(), calls.c.model)
        )
        out = []
        for model, runs, n_calls, cost, tin, tout, avg_q, n_q in rows:
            cost_f = None if cost is None else float(cost)
            avg_quality = _ratio(avg_q)
            out.append(
                {
                    "model": model,
                    "runs": int(runs),
                    "calls": int(n_calls or 0),
                    "cost_usd": cost_f,
                    "avg_cost_per_run": None if cost_f is None else cost_f / int(runs),
                    "tokens_in": int(tin or 0),
                    "tokens_out": int(tout or 0),
                    "avg_quality": avg_quality,
                    "scored_runs": int(n_q or 0),
                    "cost_per_quality_point": None
                    if cost_f is None or not avg_quality
                    else cost_f / int(runs) / avg_quality,
                }
            )
        return out

    def decisions(
        self, *, min_runs: int = 1, low_quality: float = GAP_RATIO, limit: int = 100, **filters: Any
    ) -> list[dict[str, Any]]:
        """Each decision ``what`` with the outcomes of the runs that took it vs the runs that did not.

        Considered runs are the finished ones (complete or failed). A run is low quality when its
        gate failed, or, without a gate, when its quality score is below ``low_quality``.
        """
        t, d = traces.c, decisions.c
        cond = and_(self._where(filters), t.status.in_(("complete", "failed")))
        is_failed = case((t.status == "failed", 1), else_=0)
        is_low = case(
            (t.gate_passed.is_(False), 1), (and_(t.gate_passed.is_(None), t.quality_score < low_quality), 1), else_=0
        )
        ((n_all, f_all, l_all),) = self._rows(select(func.count(), func.sum(is_failed), func.sum(is_low)).where(cond))
        taken = (
            select(
                d.what.label("what"),
                d.trace_id.label("trace_id"),
                func.avg(d.confidence).label("conf"),
                func.max(d.stage).label("stage"),
            )
            .group_by(d.what, d.trace_id)
            .subquery()
        )
        rows = self._rows(
            select(
                taken.c.what,
                func.count(),
                func.sum(is_failed),
                func.sum(is_low),
                func.avg(taken.c.conf),
                func.max(taken.c.stage),
            )
            .join(traces, traces.c.trace_id == taken.c.trace_id)
            .where(cond)
            .group_by(taken.c.what)
            .having(func.count() >= min_runs)
            .order_by(func.count().desc(), taken.c.what)
            .limit(limit)
        )
        n_all, f_all, l_all = int(n_all), int(f_all or 0), int(l_all or 0)
        out = []
        for what, n_raw, f_raw, low_raw, conf, stage in rows:
            n, f, low = int(n_raw), int(f_raw or 0), int(low_raw or 0)
            rest = n_all - n
            fr_with, fr_without = _rate(f, n), _rate(f_all - f, rest)
            lq_with, lq_without = _rate(low, n), _rate(l_all - low, rest)
            out.append(
                {
                    "what": what,
                    "stage": stage,
                    "runs": n,
                    "avg_confidence": _ratio(conf),
                    "failure_rate": fr_with,
                    "failure_rate_without": fr_without,
                    "low_quality_rate": lq_with,
                    "low_quality_rate_without": lq_without,
                    "failure_lift": None if fr_with is None or fr_without is None else fr_with - fr_without,
                    "low_quality_lift": None if lq_with is None or lq_without is None else lq_with - lq_without,
                }
            )
        return out


def open_query(store: str | Store | None = None) -> Query:
    """A Query over ``store``: a URL, a Store, or None for the configured store."""
    from glassbox.store.store import Store

    if isinstance(store, Store):
        return Query(store)
    if store is None:
        store = _configured_store()
        if not store:
            raise StoreError("no store configured (store is off); pass a store URL")
    _must_exist(store)
    return Query(Store(store), owned=True)


def _configured_store() -> str | None:
    """The store of the running configuration (``gb.configure``), else the settings' (env, glassbox.toml)."""
    from glassbox import runtime

    rt = runtime._runtime  # the installed one: runtime.get() would build (and open) the default store
    if rt is not None:
        return rt.settings.store
    from glassbox.config import load_settings

    return load_settings().store


def _must_exist(store: str) -> None:
    """Reading never creates a database: an SQLite file that is not there is an error, not a new empty store."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    try:
        url = make_url(database.as_url(store))
    except Exception:  # noqa: BLE001 - Store() reports a bad URL precisely
        return
    path = url.database
    if (
        url.get_backend_name() == "sqlite"
        and path
        and path != ":memory:"
        and not path.startswith("file:")
        and not Path(path).exists()
    ):
        raise StoreError(
            f"no store at {database.safe_url(database.as_url(store))}: nothing has been recorded "
            "there yet (check gb.configure(store=...) or GLASSBOX_STORE)"
        )
