"""Retention: delete runs older than a cutoff from the database and old daily files from the trail.

Rows that belong to no run go by their own age: drift results (``at``) and resolved alerts without a
run (drift and SLO alerts, by ``resolved_at``; open ones stay, whatever their age). Tables left alone:
pinned drift baselines, flag definitions and history, exposures (an experiment's unit counts), release
verdicts and regression runs (records people keep), and reports (``reports_keep_days`` prunes them).

Deletes go in batches of traces (then of aged rows), each batch one transaction (children first), so a long
clean-up never holds a huge transaction and an interrupted one leaves a consistent store.
A dry run counts what would go and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import StoreError
from glassbox.store import database
from glassbox.store.schema import CHILD_TABLES, alerts, traces
from glassbox.store.tables.feedback import drift_results

if TYPE_CHECKING:
    from glassbox.store.store import Store

_DAY_FILE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.jsonl$")
_TABLES = (*CHILD_TABLES, alerts)


def _aged(cutoff: datetime) -> tuple[tuple[Any, Any, Any], ...]:
    """(table, its key column, the condition) of the rows older than ``cutoff`` that belong to no run."""
    a = alerts.c
    return (
        (drift_results, drift_results.c.id, drift_results.c.at < cutoff),
        (alerts, a.id, and_(a.trace_id.is_(None), a.state == "resolved", a.resolved_at < cutoff)),
    )


def count_older(store: Store, cutoff: datetime) -> dict[str, int]:
    """Rows per table that belong to runs started before ``cutoff`` (naive UTC), and the aged rows of no run."""
    old = select(traces.c.trace_id).where(traces.c.started_at < cutoff)
    store.ready()
    try:
        with store.engine.connect() as conn:
            out = {"traces": int(conn.execute(select(func.count()).select_from(old.subquery())).scalar_one())}
            for t in _TABLES:
                out[t.name] = int(
                    conn.execute(select(func.count()).select_from(t).where(t.c.trace_id.in_(old))).scalar_one()
                )
            out["drift_results"] = 0
            for t, _, cond in _aged(cutoff):
                out[t.name] += int(conn.execute(select(func.count()).select_from(t).where(cond)).scalar_one())
    except SQLAlchemyError as exc:
        where = database.safe_url(store.url)
        raise StoreError(f"counting old runs in {where} failed: {database._short(exc)}") from None
    return out


def delete_older(
    store: Store, cutoff: datetime, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Delete runs started before ``cutoff`` with all their rows, then the aged rows of no run (drift
    results, resolved alerts without a run); returns rows deleted per table."""
    totals = {"traces": 0, **{t.name: 0 for t in _TABLES}, "drift_results": 0}
    store.ready()
    try:
        while True:
            with store.engine.begin() as conn:
                ids = [
                    r[0]
                    for r in conn.execute(
                        select(traces.c.trace_id).where(traces.c.started_at < cutoff).limit(batch)
                    ).all()
                ]
                if not ids:
                    break
                for t in _TABLES:
                    totals[t.name] += conn.execute(delete(t).where(t.c.trace_id.in_(ids))).rowcount or 0
                totals["traces"] += conn.execute(delete(traces).where(traces.c.trace_id.in_(ids))).rowcount or 0
            if progress is not None:
                progress(len(ids))
        for t, key, cond in _aged(cutoff):
            while True:
                with store.engine.begin() as conn:
                    keys = [r[0] for r in conn.execute(select(key).where(cond).limit(batch)).all()]
                    if not keys:
                        break
                    totals[t.name] += conn.execute(delete(t).where(key.in_(keys))).rowcount or 0
        return totals
    except SQLAlchemyError as exc:
        raise StoreError(
            f"deleting old runs from {database.safe_url(store.url)} failed: {database._short(exc)}"
        ) from None


def old_trail_files(directory: str | Path, cutoff: datetime, today: date | None = None) -> list[tuple[Path, int]]:
    """Daily trail files (``YYYY-MM-DD.jsonl``) whose whole day is before ``cutoff``, with their sizes.

    Today's file and files not named like a trail day are never included.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return []
    today = today or datetime.now(UTC).date()  # the trail names its files by UTC day
    out = []
    for path in sorted(folder.iterdir()):
        m = _DAY_FILE.match(path.name)
        if not m or not path.is_file():
            continue
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        if day < cutoff.date() and day != today:
            out.append((path, path.stat().st_size))
    return out


def summary(counts: dict[str, Any], files: list[tuple[Path, int]]) -> dict[str, Any]:
    return {"rows": counts, "trail_files": [str(p) for p, _ in files], "trail_bytes": sum(n for _, n in files)}
