"""Feedback figures for the query API: aggregates per run group, weekly trends, the retraining dataset.

``avg_rating`` is the mean of ratings on 0..1 (each normalised from its own scale, so 1-5 stars and
thumbs average together); ``positive_share`` is the share of feedback (ratings, comments, signals)
whose sentiment label is positive; ``feedback`` counts items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from glassbox.analysis.filters import check, where
from glassbox.errors import QueryError
from glassbox.store.schema import feedback, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store

FEEDBACK_METRICS = ("feedback", "avg_rating", "positive_share", "negative_share", "avg_sentiment")
TREND_BY = ("release", "workflow")


def _columns() -> dict[str, Any]:
    f = feedback.c
    norm = func.coalesce(f.normalized, f.rating)  # rows from before migration 0009: the rating was on 0..1
    labelled = func.count(f.label)
    return {
        "feedback": func.count(),
        "avg_rating": func.avg(norm),
        "positive_share": func.sum(case((f.label == "positive", 1), else_=0)) * 1.0 / func.nullif(labelled, 0),
        "negative_share": func.sum(case((f.label == "negative", 1), else_=0)) * 1.0 / func.nullif(labelled, 0),
        "avg_sentiment": func.avg(f.sentiment),
    }


def aggregate(store: Store, metrics: Sequence[str], cond: Any, key: Any = None) -> dict[Any, dict[str, Any]]:
    """``{group value: {metric: value}}`` over the feedback of the runs matching ``cond`` (``None`` key: all)."""
    unknown = [m for m in metrics if m not in FEEDBACK_METRICS]
    if unknown:
        raise QueryError(f"unknown feedback metric {unknown[0]!r}; known: {', '.join(FEEDBACK_METRICS)}")
    cols = _columns()
    keys = [key] if key is not None else []
    stmt = (
        select(*keys, *[cols[m] for m in metrics])
        .select_from(feedback.join(traces, traces.c.trace_id == feedback.c.trace_id))
        .where(cond)
    )
    if key is not None:
        stmt = stmt.group_by(key)
    store.ready()
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        k = row[0] if key is not None else None
        vals = row[len(keys) :]
        out[k] = {
            m: (int(v or 0) if m == "feedback" else (None if v is None else float(v)))
            for m, v in zip(metrics, vals, strict=True)
        }
    return out


def empty(metrics: Sequence[str]) -> dict[str, Any]:
    return {m: (0 if m == "feedback" else None) for m in metrics}


def _week(d: datetime) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def feedback_trend(
    store: Store,
    *,
    by: str | None = None,
    weeks: int = 12,
    project: str | None = None,
    now: datetime | None = None,
    **filters: Any,
) -> list[dict[str, Any]]:
    """Per ISO week (and per release or workflow): feedback, ratings, avg_rating, positive/negative share,
    average sentiment and signal counts, oldest week first."""
    if by is not None and by not in TREND_BY:
        raise QueryError(f"feedback trend by: expected one of {', '.join(TREND_BY)}, got {by!r}")
    if not 1 <= int(weeks) <= 520:
        raise QueryError(f"weeks: expected 1 to 520, got {weeks!r}")
    now = now or datetime.now(UTC).replace(tzinfo=None)
    since = now - timedelta(weeks=int(weeks))
    checked = check({**filters, **({"project": project} if project else {})})
    f = feedback.c
    cols = [f.at, func.coalesce(f.normalized, f.rating), f.label, f.sentiment, f.signal, f.kind]
    if by is not None:
        cols.append(traces.c[by])
    stmt = (
        select(*cols)
        .select_from(feedback.join(traces, traces.c.trace_id == f.trace_id))
        .where(where(checked, store.engine.dialect.name), f.at >= since)
        .order_by(f.at)
    )
    store.ready()
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    groups: dict[tuple[str, Any], dict[str, Any]] = {}
    for row in rows:
        at, norm, label, sentiment, signal, kind = row[:6]
        key = (_week(at), row[6] if by is not None else None)
        g = groups.setdefault(key, {"feedback": 0, "ratings": [], "labels": [], "sentiments": [], "signals": {}})
        g["feedback"] += 1
        if norm is not None:
            g["ratings"].append(float(norm))
        if label is not None:
            g["labels"].append(label)
        if sentiment is not None:
            g["sentiments"].append(float(sentiment))
        if kind == "implicit" and signal:
            g["signals"][signal] = g["signals"].get(signal, 0) + 1
    out = []
    for (week, seg), g in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        labels = g["labels"]
        row_out: dict[str, Any] = {"week": week}
        if by is not None:
            row_out[by] = seg
        row_out.update(
            {
                "feedback": g["feedback"],
                "ratings": len(g["ratings"]),
                "avg_rating": sum(g["ratings"]) / len(g["ratings"]) if g["ratings"] else None,
                "positive_share": labels.count("positive") / len(labels) if labels else None,
                "negative_share": labels.count("negative") / len(labels) if labels else None,
                "avg_sentiment": sum(g["sentiments"]) / len(g["sentiments"]) if g["sentiments"] else None,
                "signals": g["signals"],
            }
        )
        out.append(row_out)
    return out


def dataset_rows(
    store: Store,
    *,
    label: str | None = None,
    balance: bool = False,
    limit: int | None = None,
    seed: int = 0,
    **filters: Any,
) -> list[dict[str, Any]]:
    """The retraining export: one row per run with feedback (input, output, ratings, sentiment, signals).

    A run's label is the sign of its mean sentiment (positive, negative, neutral). ``label`` keeps one
    kind; ``balance`` keeps as many positive as negative runs (a seeded random sample of the larger side;
    neutral runs are left out).
    """
    import random

    if label is not None and label not in ("positive", "negative", "neutral"):
        raise QueryError(f"label: expected positive, negative or neutral, got {label!r}")
    checked = check(filters)
    t, f = traces.c, feedback.c
    stmt = (
        select(
            t.trace_id,
            t.project,
            t.workflow,
            t.release,
            t.input,
            t.output,
            t.started_at,
            f.kind,
            f.rating,
            f.scale,
            func.coalesce(f.normalized, f.rating),
            f.signal,
            f.comment,
            f.sentiment,
            f.label,
            f.user_id,
            f.at,
        )
        .select_from(feedback.join(traces, t.trace_id == f.trace_id))
        .where(where(checked, store.engine.dialect.name))
        .order_by(t.started_at.desc(), t.trace_id, f.at)
    )
    store.ready()
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    runs: dict[str, dict[str, Any]] = {}
    for r in rows:
        run = runs.get(r.trace_id)
        if run is None:
            run = runs[r.trace_id] = {
                "trace_id": r.trace_id,
                "project": r.project,
                "workflow": r.workflow,
                "release": r.release,
                "input": r.input,
                "output": r.output,
                "started_at": r.started_at.isoformat() + "Z" if r.started_at else None,
                "ratings": [],
                "comments": [],
                "signals": [],
                "sentiments": [],
            }
        if r.rating is not None:
            run["ratings"].append({"rating": r.rating, "scale": r.scale, "normalized": r[10]})
        if r.comment:
            run["comments"].append(r.comment)
        if r.kind == "implicit" and r.signal:
            run["signals"].append(r.signal)
        if r.sentiment is not None:
            run["sentiments"].append(float(r.sentiment))
    out = []
    for run in runs.values():
        norms = [x["normalized"] for x in run["ratings"] if x["normalized"] is not None]
        run["rating"] = sum(norms) / len(norms) if norms else None
        s = sum(run["sentiments"]) / len(run["sentiments"]) if run["sentiments"] else 0.0
        run["sentiment"] = s
        run["label"] = "positive" if s > 0 else "negative" if s < 0 else "neutral"
        del run["sentiments"]
        out.append(run)
    if label is not None:
        out = [r for r in out if r["label"] == label]
    if balance:
        pos = [r for r in out if r["label"] == "positive"]
        neg = [r for r in out if r["label"] == "negative"]
        n = min(len(pos), len(neg))
        rng = random.Random(seed)
        keep = {r["trace_id"] for r in rng.sample(pos, n) + rng.sample(neg, n)}
        out = [r for r in out if r["trace_id"] in keep]
    return out[:limit] if limit is not None else out
