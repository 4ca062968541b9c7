"""Scores and feedback added to a stored run after the fact (people, judges, implicit signals)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import StoreError, TraceNotFound
from glassbox.model import Feedback, Score
from glassbox.store import database, rows
from glassbox.store.schema import feedback, scores, traces
from glassbox.user_feedback import SIGNALS  # noqa: F401  (re-exported: the known signals)

if TYPE_CHECKING:
    from glassbox.store.store import Store


def _project_of(conn: Any, trace_id: str) -> str:
    row = conn.execute(select(traces.c.project).where(traces.c.trace_id == trace_id)).first()
    if row is None:
        raise TraceNotFound(f"no trace {trace_id!r}")
    return row[0]


def _add_row(
    store: Store, trace_id: str, table: Any, row: dict[str, Any], project: str | None, then: Any = None
) -> None:
    """Insert one child row of an existing run (of ``project`` when given), in one transaction."""
    store.ready()
    try:
        with store.engine.begin() as conn:
            owner = _project_of(conn, trace_id)
            if project is not None and owner != project:
                raise TraceNotFound(f"no trace {trace_id!r}")
            conn.execute(store._child_upsert(table), [row])
            if then is not None:
                conn.execute(then)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot store the {table.name} row: {database._short(exc)}") from None


def add_score(store: Store, trace_id: str, score: Score, *, project: str | None = None) -> None:
    """Store a score on an existing run; a ``quality`` score also becomes the run's quality and gate."""
    quality = None
    if score.name == "quality":
        quality = (
            update(traces)
            .where(traces.c.trace_id == trace_id)
            .values(quality_score=score.value, gate_passed=score.passed)
        )
    elif score.source != "heuristic":  # a run scored by no `quality` score: its first judged score (docs/quality.md)
        quality = (
            update(traces)
            .where(traces.c.trace_id == trace_id, traces.c.quality_score.is_(None))
            .values(quality_score=score.value, gate_passed=score.passed)
        )
    _add_row(store, trace_id, scores, rows.score_row(trace_id, score), project, quality)


def add_feedback(store: Store, trace_id: str, fb: Feedback, *, project: str | None = None) -> None:
    _add_row(store, trace_id, feedback, rows.feedback_row(trace_id, fb), project)


def feedback_summary(store: Store, *, project: str | None = None, since: datetime | None = None) -> dict[str, Any]:
    """Explicit ratings (count, average on 0..1, share positive), implicit signals by kind, sentiment labels."""
    f, t = feedback.c, traces.c
    conds: list[Any] = []
    if project is not None:
        conds.append(t.project == project)
    if since is not None:
        conds.append(f.at >= since)
    base = select().select_from(feedback.join(traces, traces.c.trace_id == f.trace_id))
    # Rows from before migration 0009 have no normalised value: their rating was already on 0..1.
    norm = func.coalesce(f.normalized, f.rating)
    store.ready()
    with store.engine.connect() as conn:
        n, rated, avg, positive, comments = conn.execute(
            base.add_columns(
                func.count(),
                func.count(norm),
                func.avg(norm),
                func.sum(case((norm > 0.5, 1), else_=0)),
                func.count(f.comment),
            ).where(f.kind == "explicit", *conds)
        ).one()
        signals = dict(
            conn.execute(
                base.add_columns(f.signal, func.count()).where(f.kind == "implicit", *conds).group_by(f.signal)
            ).all()
        )
        labels = dict(
            conn.execute(
                base.add_columns(f.label, func.count()).where(f.label.is_not(None), *conds).group_by(f.label)
            ).all()
        )
        runs = conn.execute(base.add_columns(func.count(func.distinct(f.trace_id))).where(*conds)).scalar_one()
    return {
        "explicit": {
            "count": int(n),
            "ratings": int(rated),
            "avg_rating": None if avg is None else float(avg),
            "positive_rate": (int(positive or 0) / int(rated)) if rated else None,
            "comments": int(comments),
        },
        "implicit": {k or "": int(v) for k, v in signals.items()},
        "sentiment": {k: int(labels.get(k, 0)) for k in ("positive", "neutral", "negative")},
        "runs_with_feedback": int(runs),
    }
