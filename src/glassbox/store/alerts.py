"""Alerts in the store (calibration flags, budget, later SLO/drift/canary): add, list, acknowledge."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import StoreError, TraceNotFound
from glassbox.model import Alert
from glassbox.store import database, rows
from glassbox.store.schema import alerts, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store


def _failed(store: Store, what: str, exc: SQLAlchemyError) -> StoreError:
    return StoreError(f"{what} on {database.safe_url(store.url)} failed: {database._short(exc)}")


def add_alerts(store: Store, items: Iterable[Alert], *, flag_traces: bool = False) -> None:
    """Insert alerts (idempotent by id); optionally flag their traces for review, in one transaction."""
    batch = list(items)
    if not batch:
        return
    store.ready()
    try:
        with store.engine.begin() as conn:
            conn.execute(store._child_upsert(alerts), [rows.alert_row(a) for a in batch])
            flagged = sorted({a.trace_id for a in batch if a.trace_id})
            if flag_traces and flagged:
                conn.execute(update(traces).where(traces.c.trace_id.in_(flagged)).values(flagged_for_review=True))
    except SQLAlchemyError as exc:
        raise _failed(store, "writing alerts", exc) from None


def list_alerts(store: Store, *, source: str | None = None, project: str | None = None,
                acknowledged: bool | None = None, rule: str | None = None, since: datetime | None = None,
                trace_id: str | None = None, limit: int = 100) -> list[Alert]:  # fmt: skip
    """Alerts, newest first."""
    c = alerts.c
    conds: list[Any] = [col == val for col, val in ((c.source, source), (c.project, project), (c.rule, rule),
                                                    (c.trace_id, trace_id)) if val is not None]  # fmt: skip
    if acknowledged is not None:
        conds.append(c.acknowledged.is_(acknowledged))
    if since is not None:
        conds.append(c.at >= since)
    store.ready()
    try:
        with store.engine.connect() as conn:
            found = conn.execute(select(alerts).where(*conds).order_by(c.at_ns.desc(), c.id).limit(limit)).all()
    except SQLAlchemyError as exc:
        raise _failed(store, "reading alerts", exc) from None
    return [rows.alert_from_row(r) for r in found]


def acknowledge(store: Store, alert_id: str) -> Alert:
    """Mark one alert acknowledged (a unique id prefix of 4+ characters works); TraceNotFound-like error if absent."""
    store.ready()
    c = alerts.c
    try:
        with store.engine.begin() as conn:
            matches = conn.execute(select(c.id).where(c.id.startswith(alert_id, autoescape=True)).limit(2)).all() \
                if len(alert_id) >= 4 else []  # fmt: skip
            if len(matches) != 1:
                why = "is ambiguous" if matches else "does not exist"
                raise AlertNotFound(f"alert {alert_id!r} {why} in {database.safe_url(store.url)}")
            conn.execute(update(alerts).where(c.id == matches[0][0]).values(acknowledged=True))
            row = conn.execute(select(alerts).where(c.id == matches[0][0])).one()
    except SQLAlchemyError as exc:
        raise _failed(store, "acknowledging an alert", exc) from None
    return rows.alert_from_row(row)


class AlertNotFound(TraceNotFound):
    """No alert with that id (a not-found error like a missing trace: exit code 1, HTTP 404)."""
