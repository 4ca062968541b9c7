"""Monitoring on the server: alerts and SLOs over REST, their dashboard pages, and the SLO check job.

REST: ``GET /api/v1/alerts`` (every firing alert by default), ``POST /api/v1/alerts/{id}/ack``,
``POST /api/v1/alerts/{id}/resolve``, ``GET /api/v1/slo`` (status of every SLO),
``GET /api/v1/slo/{name}``; the old ``/api/v1/flags`` routes remain as aliases. Pages: ``/alerts``
(``/flags`` redirects there) and ``/slo``. The job (``start``) checks the SLOs of glassbox.toml every
``slo_check_interval`` seconds and fires/resolves their burn-rate alerts (0 turns it off).
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from glassbox.server.auth import Principal, principal, reader, writer

log = logging.getLogger("glassbox.server")

router = APIRouter(prefix="/api/v1", tags=["monitoring"])
pages = APIRouter(include_in_schema=False)
Read = Annotated[Principal, Depends(reader)]
Write = Annotated[Principal, Depends(writer)]


# -- alerts ------------------------------------------------------------------------------------------
def _alerts(
    request: Request,
    who: Principal,
    *,
    source: str = "any",
    state: str | None = "firing",
    severity: str | None = None,
    limit: int = 100,
) -> list[Any]:
    from glassbox.store.alerts import list_alerts

    return list_alerts(
        request.app.state.store,
        source=None if source == "any" else source,
        project=who.project,
        state=state,
        severity=severity,
        limit=limit,
    )


@router.get("/alerts", summary="Alerts of every source (SLO, budget, calibration, drift, canary), newest first")
def alerts_list(
    request: Request,
    who: Read,
    state: Annotated[
        str, Query(description=("firing (default), acknowledged, resolved, open (firing + acknowledged) or any"))
    ] = "firing",
    source: str = "any",
    severity: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    found = _alerts(
        request, who, source=source, state=None if state == "any" else state, severity=severity, limit=limit
    )
    return [a.to_dict() for a in found]


@router.get("/flags", summary="Old name of GET /alerts (include_acknowledged: every state)", deprecated=True)
def flags_alias(
    request: Request,
    who: Read,
    include_acknowledged: bool = False,
    source: str = "any",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return [
        a.to_dict()
        for a in _alerts(request, who, source=source, limit=limit, state=None if include_acknowledged else "firing")
    ]


def _mine(request: Request, who: Principal, alert_id: str) -> Any:
    from glassbox.store.alerts import AlertNotFound, get_alert

    found = get_alert(request.app.state.store, alert_id.strip().lower())
    if who.project is not None and found.project != who.project:
        raise AlertNotFound(f"alert {alert_id!r} does not exist")
    return found


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (repeats are counted, notify no one)")
def alerts_ack(request: Request, who: Write, alert_id: str) -> dict[str, Any]:
    from glassbox.monitoring.alerts import acknowledge

    return acknowledge(request.app.state.store, _mine(request, who, alert_id).id).to_dict()


@router.post("/flags/{alert_id}/ack", summary="Old name of POST /alerts/{id}/ack", deprecated=True)
def flags_ack_alias(request: Request, who: Write, alert_id: str) -> dict[str, Any]:
    return alerts_ack(request, who, alert_id)


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert (receivers get a resolved event)")
def alerts_resolve(request: Request, who: Write, alert_id: str) -> dict[str, Any]:
    from glassbox.monitoring.alerts import resolve

    found = _mine(request, who, alert_id)
    done = resolve(request.app.state.store, found.key) if found.state != "resolved" and found.key else None
    return (done or found).to_dict()


# -- SLOs --------------------------------------------------------------------------------------------
def _slos(who: Principal) -> list[Any]:
    from glassbox.monitoring.slo import load

    slos = load()
    if who.project is not None:  # a project key sees its project's SLOs (and those of no project, scoped to it)
        from dataclasses import replace

        slos = [
            replace(s, project=who.project) if s.project is None else s
            for s in slos
            if s.project in (None, who.project)
        ]
    return slos


@router.get("/slo", summary="Status of every SLO: SLI, error budget, burn rates, firing alerts, burn-down")
def slo_list(request: Request, who: Read) -> dict[str, Any]:
    from glassbox.monitoring.slo import check

    statuses = check(request.app.state.store, _slos(who), alert=False)
    return {"slos": [s.to_dict() for s in statuses], "job": getattr(request.app.state, "slo_job", None)}


@router.get("/slo/{name}", summary="Status of one SLO")
def slo_one(request: Request, who: Read, name: str) -> dict[str, Any]:
    from glassbox.monitoring.slo import SLONotFound, status

    found = [s for s in _slos(who) if s.name == name]
    if not found:
        raise SLONotFound(f"no SLO named {name!r}")
    return status(request.app.state.store, found[0]).to_dict()


# -- pages -------------------------------------------------------------------------------------------
@pages.get("/alerts")
def alerts_page(request: Request, state: str = "firing") -> Response:
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    wanted = state if state in ("firing", "acknowledged", "resolved", "open") else None
    items = _alerts(request, who, state=wanted, limit=200)
    return web.page(request, "alerts.html", who=who, items=items, state=state if wanted else "any")


@pages.get("/flags")
def flags_page(request: Request, all: bool = False) -> Response:
    return RedirectResponse("/alerts?state=any" if all else "/alerts", status_code=307)


@pages.post("/alerts/{alert_id}/ack")
def alerts_ack_form(request: Request, alert_id: str, csrf: str = Form("")) -> Response:
    from glassbox.monitoring.alerts import acknowledge
    from glassbox.server import web

    web.check_csrf(request, csrf)
    who = principal(request, "write")
    acknowledge(request.app.state.store, _mine(request, who, alert_id).id)
    return RedirectResponse("/alerts", status_code=303)


@pages.post("/flags/{alert_id}/ack")
def flags_ack_form(request: Request, alert_id: str, csrf: str = Form("")) -> Response:
    return alerts_ack_form(request, alert_id, csrf)


@pages.post("/alerts/{alert_id}/resolve")
def alerts_resolve_form(request: Request, alert_id: str, csrf: str = Form("")) -> Response:
    from glassbox.server import web

    web.check_csrf(request, csrf)
    alerts_resolve(request, principal(request, "write"), alert_id)
    return RedirectResponse("/alerts", status_code=303)


@pages.get("/slo")
def slo_page(request: Request) -> Response:
    from glassbox.monitoring.slo import SLOError, check
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    error, statuses = None, []
    try:
        statuses = check(request.app.state.store, _slos(who), alert=False)
    except SLOError as exc:
        error = str(exc)
    charts = {s.slo.name: {"x": [t for t, _ in s.burn_down], "y": [r for _, r in s.burn_down]} for s in statuses}
    return web.page(
        request,
        "slo.html",
        who=who,
        statuses=statuses,
        charts=charts,
        error=error,
        job=getattr(request.app.state, "slo_job", None),
    )


# -- the background check ------------------------------------------------------------------------------
def run_once(app: Any) -> dict[str, Any]:
    from glassbox.monitoring.slo import check, load

    slos = load()
    t0 = time.perf_counter()
    statuses = check(app.state.store, slos)
    return {
        "slos": len(slos),
        "firing": sum(1 for s in statuses if s.firing),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def start(app: Any) -> Any:
    """Check the SLOs every ``slo_check_interval`` seconds (first one soon after start); returns the stop function."""
    from glassbox.config import load_settings

    interval = float(load_settings().slo_check_interval)
    job: dict[str, Any] = {
        "interval_s": interval,
        "running": interval > 0,
        "last_check": None,
        "last_error": None,
        "checks": 0,
    }
    app.state.slo_job = job

    def health() -> tuple[str, str]:
        from glassbox.monitoring import notifiers

        delivery = notifiers.health()
        dead = delivery["dead_letters"] if delivery else 0
        if job["last_error"]:
            return "warn", f"last SLO check failed: {job['last_error']}"
        if dead:
            return "warn", f"{dead} alert notifications could not be delivered (dead letters)"
        if not job["running"]:
            return "ok", "SLO checks off (slo_check_interval = 0)"
        return "ok", (
            f"every {interval:g} s; last check {job['last_check'] or 'pending'}; "
            f"{job.get('firing', 0)} SLOs burning; 0 dead letters"
        )

    app.state.health_checks["slo_and_alerts"] = health
    if interval <= 0:
        return None
    from glassbox.server.features import periodic

    return periodic("SLO check", lambda: run_once(app), job, interval=interval, first=min(interval, 2.0))
