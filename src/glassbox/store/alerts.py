"""Alerts in the store (calibration, budget, SLO, drift, canary): record with dedup, list, acknowledge, resolve.

One row per *open* alert and dedup key (a partial unique index): firing again while it is open
updates that row (last seen, count, message, severity, run) instead of adding one. A resolved
alert that fires again opens a new row. ``at`` is the last time it was seen; states are
``firing``, ``acknowledged`` (a person saw it: repeats count but notify no one) and ``resolved``.
Delivery to people (webhooks, commands, callbacks) is ``glassbox.monitoring.alerts``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import NotFound, QueryError, StoreError
from glassbox.model import Alert
from glassbox.store import database, rows
from glassbox.store import dialect as sql
from glassbox.store.schema import ALERT_OPEN, alerts, traces

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from glassbox.store.store import Store

STATES = ("firing", "acknowledged", "resolved")
SEVERITIES = ("critical", "warning", "info")


class AlertNotFound(NotFound):
    """No alert with that id or key (CLI: one line, exit 1; HTTP 404)."""


def _failed(store: Store, what: str, exc: SQLAlchemyError) -> StoreError:
    return StoreError(f"{what} on {database.safe_url(store.url)} failed: {database._short(exc)}")


def default_key(source: str, rule: str, dims: dict[str, Any] | None = None, project: str | None = None) -> str:
    """The dedup key when none is given: source, rule, project and the dims (canonical JSON)."""
    parts = [source, rule] + ([f"project={project}"] if project else [])
    if dims:
        parts.append(orjson.dumps(dims, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode())
    return ":".join(parts)


def key_of(a: Alert) -> str:
    """The alert's dedup key; alerts recorded by the SDK (budget) dedup by source, rule and project."""
    return a.key or default_key(a.source, a.rule, None, a.project)


def _insert(conn: Connection) -> Any:
    return sql.insert(conn.dialect.name, alerts)


def record_in(conn: Connection, items: Iterable[Alert]) -> list[Alert]:
    """Record alerts inside an open transaction (dedup by key); returns each one as stored.

    The returned alerts carry the stored id (the open row's, when the key was already open),
    state, first seen and count: ``a.id != the id given`` means it was a repeat.
    """
    out = []
    for a in items:
        key = a.key = key_of(a)
        row = rows.alert_row(a)
        # A new alert fires; one read back from the trail (glassbox import) keeps the state it had.
        state = a.state or ("acknowledged" if a.acknowledged else "firing")
        first_ns = a.first_seen_ns or a.at_ns
        row.update(
            state=state,
            dedup_key=key,
            first_seen=rows.dt(first_ns),
            first_seen_ns=first_ns,
            count=a.count or 1,
            acknowledged=state == "acknowledged",
            resolved_at=None,
        )
        stmt = _insert(conn).values(row)
        c = alerts.c
        # Repeats bump the open row; an acknowledged one stays acknowledged (someone is on it).
        stmt = stmt.on_conflict_do_update(
            index_elements=["dedup_key"],
            index_where=ALERT_OPEN,
            set_={
                "at": stmt.excluded.at,
                "at_ns": func.coalesce(stmt.excluded.at_ns, c.at_ns),
                "message": stmt.excluded.message,
                "severity": stmt.excluded.severity,
                "dims": stmt.excluded.dims,
                "trace_id": func.coalesce(stmt.excluded.trace_id, c.trace_id),
                "count": c.count + 1,
            },
        )
        conn.execute(stmt)
        stored = conn.execute(select(alerts).where(c.dedup_key == key, ALERT_OPEN)).one()
        out.append(rows.alert_from_row(stored))
    return out


def record(store: Store, items: Iterable[Alert], *, flag_traces: bool = False) -> list[Alert]:
    """Record alerts (dedup by key) in one transaction; optionally flag their runs for review."""
    batch = list(items)
    if not batch:
        return []
    store.ready()
    try:
        with store.engine.begin() as conn:
            stored = record_in(conn, batch)
            flagged = sorted({a.trace_id for a in batch if a.trace_id})
            if flag_traces and flagged:
                conn.execute(update(traces).where(traces.c.trace_id.in_(flagged)).values(flagged_for_review=True))
    except SQLAlchemyError as exc:
        raise _failed(store, "writing alerts", exc) from None
    return stored


def add_alerts(store: Store, items: Iterable[Alert], *, flag_traces: bool = False) -> None:
    """Record alerts (kept for callers of the first API: same as ``record``)."""
    record(store, items, flag_traces=flag_traces)


def list_alerts(
    store: Store,
    *,
    source: str | None = None,
    project: str | None = None,
    acknowledged: bool | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    trace_id: str | None = None,
    state: str | Iterable[str] | None = None,
    severity: str | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts, most recently seen first. ``state``: one state, several, or ``"open"`` (firing + acknowledged)."""
    c = alerts.c
    conds: list[Any] = [
        col == val
        for col, val in (
            (c.source, source),
            (c.project, project),
            (c.rule, rule),
            (c.trace_id, trace_id),
            (c.severity, severity),
        )
        if val is not None
    ]
    if acknowledged is not None:
        conds.append(c.acknowledged.is_(acknowledged))
    if since is not None:
        conds.append(c.at >= since)
    if state is not None:
        wanted = ["firing", "acknowledged"] if state == "open" else [state] if isinstance(state, str) else list(state)
        bad = [s for s in wanted if s not in STATES]
        if bad:
            raise QueryError(f"unknown alert state {bad[0]!r}: use firing, acknowledged, resolved or open")
        conds.append(c.state.in_(wanted))
    store.ready()
    try:
        with store.engine.connect() as conn:
            found = conn.execute(select(alerts).where(*conds).order_by(c.at_ns.desc(), c.id).limit(limit)).all()
    except SQLAlchemyError as exc:
        raise _failed(store, "reading alerts", exc) from None
    return [rows.alert_from_row(r) for r in found]


def _one(conn: Connection, store: Store, alert_id: str) -> str:
    c = alerts.c
    matches = (
        conn.execute(select(c.id).where(c.id.startswith(alert_id, autoescape=True)).limit(2)).all()
        if len(alert_id) >= 4
        else []
    )
    if len(matches) != 1:
        why = (
            "is ambiguous"
            if matches
            else ("does not exist" if len(alert_id) >= 4 else "is too short: give at least 4 characters")
        )
        raise AlertNotFound(f"alert {alert_id!r} {why} in {database.safe_url(store.url)}")
    return str(matches[0][0])


def acknowledge(store: Store, alert_id: str) -> Alert:
    """Mark one alert acknowledged (a unique id prefix of 4+ characters works); AlertNotFound if absent.

    A resolved alert stays resolved (acknowledging it changes nothing but the flag).
    """
    store.ready()
    c = alerts.c
    try:
        with store.engine.begin() as conn:
            found = _one(conn, store, alert_id)
            conn.execute(update(alerts).where(c.id == found).values(acknowledged=True))
            conn.execute(update(alerts).where(c.id == found, c.state == "firing").values(state="acknowledged"))
            row = conn.execute(select(alerts).where(c.id == found)).one()
    except SQLAlchemyError as exc:
        raise _failed(store, "acknowledging an alert", exc) from None
    return rows.alert_from_row(row)


def resolve_key(store: Store, key: str, *, at: datetime | None = None) -> Alert | None:
    """Resolve the open alert with this dedup key; None when none is open (resolving is idempotent)."""
    store.ready()
    c = alerts.c
    when = at or datetime.utcnow()
    try:
        with store.engine.begin() as conn:
            row = conn.execute(select(alerts).where(c.dedup_key == key, ALERT_OPEN)).first()
            if row is None:
                return None
            conn.execute(update(alerts).where(c.id == row.id).values(state="resolved", resolved_at=when))
            row = conn.execute(select(alerts).where(c.id == row.id)).one()
    except SQLAlchemyError as exc:
        raise _failed(store, "resolving an alert", exc) from None
    return rows.alert_from_row(row)


def get_alert(store: Store, alert_id: str) -> Alert:
    """One alert by id or unique prefix (4+ characters)."""
    store.ready()
    try:
        with store.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == _one(conn, store, alert_id))).one()
    except SQLAlchemyError as exc:
        raise _failed(store, "reading an alert", exc) from None
    return rows.alert_from_row(row)


def open_counts(store: Store, project: str | None = None) -> dict[str, int]:
    """Open alerts by severity (the alerts badge and health)."""
    c = alerts.c
    conds = [c.state.in_(("firing", "acknowledged"))] + ([c.project == project] if project else [])
    store.ready()
    with store.engine.connect() as conn:
        return {
            str(sev): int(n)
            for sev, n in conn.execute(select(c.severity, func.count()).where(*conds).group_by(c.severity))
        }
