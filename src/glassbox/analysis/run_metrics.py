"""Group metrics read from a run's stages and heuristic signals, and the list of each failed stage.

For ``Query.group_by``: per group of runs,

- ``max_gpu_mem_bytes`` / ``avg_gpu_mem_bytes``: the highest, and the mean over runs, of each run's peak GPU
  memory (a run's peak is the largest peak of its stages; runs without a measurement are left out);
- ``model_loads``: model loads summed over the group's stages;
- ``avg_<signal>`` for each heuristic quality signal (``avg_citation_count``, ``avg_answer_length``,
  ``avg_has_search``, ``avg_has_citations``, ``avg_has_structure``, ``avg_failure_occurred``): the mean over
  the runs that have it; for the 0/1 signals that is the share of runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from glassbox.quality_signals import NAMES as SIGNAL_NAMES
from glassbox.store.schema import scores, spans, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store

RESOURCE_METRICS = ("max_gpu_mem_bytes", "avg_gpu_mem_bytes", "model_loads")
SIGNAL_METRICS = tuple(f"avg_{name}" for name in SIGNAL_NAMES)
RUN_METRICS = RESOURCE_METRICS + SIGNAL_METRICS


def aggregate(store: Store, metrics: Sequence[str], cond: Any, key: Any) -> dict[Any, dict[str, Any]]:
    """``{group value: {metric: value}}`` for the runs matching ``cond``, grouped by ``key``."""
    out: dict[Any, dict[str, Any]] = {}
    resource = [m for m in metrics if m in RESOURCE_METRICS]
    signals = [m for m in metrics if m in SIGNAL_METRICS]
    store.ready()
    with store.engine.connect() as conn:
        if resource:
            s = spans.c
            per_run = (
                select(s.trace_id, func.max(s.peak_gpu_mem_bytes).label("peak"), func.sum(s.model_loads).label("loads"))
                .group_by(s.trace_id)
                .subquery()
            )
            cols = {
                "max_gpu_mem_bytes": func.max(per_run.c.peak),
                "avg_gpu_mem_bytes": func.avg(per_run.c.peak),
                "model_loads": func.sum(per_run.c.loads),
            }
            stmt = (
                select(key, *[cols[m] for m in resource])
                .select_from(traces.join(per_run, per_run.c.trace_id == traces.c.trace_id))
                .where(cond)
                .group_by(key)
            )
            for row in conn.execute(stmt).all():
                d = out.setdefault(row[0], {})
                for m, v in zip(resource, row[1:], strict=True):
                    d[m] = None if v is None else (float(v) if m == "avg_gpu_mem_bytes" else int(v))
        if signals:
            sc = scores.c
            names = [m.removeprefix("avg_") for m in signals]
            stmt = (
                select(key, sc.name, func.avg(sc.value))
                .select_from(traces.join(scores, scores.c.trace_id == traces.c.trace_id))
                .where(cond, sc.source == "heuristic", sc.name.in_(names))
                .group_by(key, sc.name)
            )
            for k, name, avg in conn.execute(stmt).all():
                out.setdefault(k, {})[f"avg_{name}"] = None if avg is None else float(avg)
    return out


def empty(metrics: Sequence[str]) -> dict[str, Any]:
    return dict.fromkeys(metrics)


def failures(store: Store, cond: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Each failed stage of the matching runs, newest first: stage, kind, error type and message, run, time."""
    s, t = spans.c, traces.c
    stmt = (
        select(
            s.name,
            s.kind,
            s.error_type,
            s.error_message,
            s.trace_id,
            s.span_id,
            s.start_ns,
            s.end_ns,
            t.workflow,
            t.project,
        )
        .select_from(spans.join(traces, traces.c.trace_id == spans.c.trace_id))
        .where(cond, s.status == "error", s.kind != "trace")
        .order_by(s.start_ns.desc(), s.trace_id, s.span_id)
        .limit(limit)
    )
    from glassbox.model import iso_from_ns

    store.ready()
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        {
            "stage": name,
            "kind": kind,
            "error_type": et,
            "error_message": em,
            "trace_id": tid,
            "span_id": sid,
            "at": iso_from_ns(end or start),
            "workflow": wf,
            "project": project,
        }
        for name, kind, et, em, tid, sid, start, end, wf, project in rows
    ]
