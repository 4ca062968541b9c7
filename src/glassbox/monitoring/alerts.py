"""Firing alerts: record (deduplicated) in the store, then deliver off the caller's thread.

Every feature that raises an alert calls ``fire`` (calibration, budget, SLO, drift, canary)::

    from glassbox.monitoring.alerts import fire
    alert = fire(store, source="slo", rule="availability:page", severity="critical",
                 message="availability burns its budget 14.4x too fast", dims={"slo": "availability"})

The dedup key defaults to source + rule + project + dims: firing the same thing again while it is
open updates that alert (last seen, count) and notifies again only after the repeat interval.
``resolve(store, key)`` closes it (and tells receivers), ``acknowledge(store, alert_id)`` silences it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from glassbox.errors import QueryError
from glassbox.ids import new_record_id
from glassbox.model import Alert
from glassbox.monitoring import notifiers
from glassbox.store import alerts as stored
from glassbox.store.alerts import SEVERITIES, AlertNotFound, default_key

if TYPE_CHECKING:
    from glassbox.store.store import Store

__all__ = ["AlertNotFound", "acknowledge", "fire", "fire_many", "resolve", "send_test"]


def fire(
    store: Store,
    *,
    source: str,
    rule: str,
    severity: str,
    message: str,
    key: str | None = None,
    dims: dict[str, Any] | None = None,
    trace_id: str | None = None,
    project: str | None = None,
    flag_trace: bool = False,
) -> Alert:
    """Record or deduplicate an alert and hand it to the configured notifiers; returns it as stored.

    ``severity``: critical, warning or info. ``flag_trace``: also flag ``trace_id`` for review.
    Delivery never blocks: notifiers run on their own threads.
    """
    alert = make_alert(
        source=source,
        rule=rule,
        severity=severity,
        message=message,
        key=key,
        dims=dims,
        trace_id=trace_id,
        project=project,
    )
    return fire_many(store, [alert], flag_traces=flag_trace)[0]


def make_alert(
    *,
    source: str,
    rule: str,
    severity: str,
    message: str,
    key: str | None = None,
    dims: dict[str, Any] | None = None,
    trace_id: str | None = None,
    project: str | None = None,
) -> Alert:
    if severity not in SEVERITIES:
        raise QueryError(f"unknown severity {severity!r}: use critical, warning or info")
    if not source or not rule:
        raise QueryError("an alert needs a source and a rule")
    return Alert(
        new_record_id(),
        source,
        rule,
        message,
        severity,
        dict(dims or {}),
        trace_id,
        project,
        time.time_ns(),
        key=key or default_key(source, rule, dims, project),
    )


def fire_many(store: Store, items: Iterable[Alert], *, flag_traces: bool = False) -> list[Alert]:
    """``fire`` for alerts already built (one transaction); each is delivered unless the policy holds it."""
    batch = list(items)
    for a in batch:
        if a.key is None:
            a.key = default_key(a.source, a.rule, a.dims, a.project)
    out = stored.record(store, batch, flag_traces=flag_traces)
    d = notifiers.delivery()
    for a in out:
        d.submit(a, "firing")
    return out


def resolve(store: Store, key: str) -> Alert | None:
    """Resolve the open alert with this dedup key and tell the receivers; None when none was open."""
    done = stored.resolve_key(store, key)
    if done is not None:
        notifiers.delivery().submit(done, "resolved")
    return done


def acknowledge(store: Store, alert_id: str) -> Alert:
    """Acknowledge an alert by id (or a unique 4+ character prefix): repeats notify no one until resolved."""
    return stored.acknowledge(store, alert_id)


def send_test(severity: str = "warning", message: str | None = None) -> Alert:
    """An alert for checking receivers (``glassbox alerts test-fire``): delivered, never stored."""
    if severity not in SEVERITIES:
        raise QueryError(f"unknown severity {severity!r}: use critical, warning or info")
    a = Alert(
        new_record_id(),
        "test",
        "test_fire",
        message or "glassbox test alert: receivers are wired up",
        severity,
        {},
        None,
        None,
        time.time_ns(),
        key=f"test:{new_record_id()}",
    )
    notifiers.delivery().submit(a, "test")
    return a
