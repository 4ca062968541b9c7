"""Drift on the server: REST (``/api/v1/drift/…``), the dashboard page, the background monitor, /metrics gauges,
and paths without ``/api/v1`` (``/trace/{id}``, ``/feedback``, ``/drift/summary``) as aliases of the API routes.

The monitor (``start``) checks every project with recent runs every ``drift_interval`` seconds (settings;
default hourly; 0 turns it off), stores the results and fires alerts (``monitoring.drift.check``).
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from glassbox.server import api
from glassbox.server.auth import Principal, reader, writer

log = logging.getLogger("glassbox.server")

router = APIRouter(prefix="/api/v1", tags=["drift"])
pages = APIRouter(include_in_schema=False)
aliases = APIRouter(tags=["aliases without /api/v1"])
Read = Annotated[Principal, Depends(reader)]
Write = Annotated[Principal, Depends(writer)]
GAUGE_TTL_S = 15.0


def _project(who: Principal, project: str | None) -> str | None:
    return who.filter_project(project)


@router.get("/drift/summary", summary="Newest drift state per field and segment, counts by severity")
def drift_summary(request: Request, who: Read, project: str | None = None) -> dict[str, Any]:
    from glassbox.monitoring.drift import summary

    out = summary(request.app.state.store, project=_project(who, project))
    out["monitor"] = getattr(request.app.state, "drift_monitor", {}) or {}
    return out


@router.get("/drift/history", summary="Stored drift results, newest first (the time series)")
def drift_history(
    request: Request,
    who: Read,
    project: str | None = None,
    field: str | None = None,
    since: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict[str, Any]]:
    from glassbox.monitoring.drift import history

    return history(request.app.state.store, project=_project(who, project), field=field, since=since, limit=limit)


class DriftCheckIn(BaseModel):
    fields: list[str] = Field(
        default_factory=lambda: ["confidence", "quality_score", "duration_ms", "workflow"], min_length=1, max_length=50
    )
    current: str = Field("24h", max_length=40)
    reference: str = Field("7d", max_length=40)
    reference_release: str | None = Field(None, max_length=200)
    baseline: str | None = Field(None, max_length=200)
    by: Literal["release", "workflow"] | None = None
    method: Literal["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"] | None = None
    threshold: float | None = Field(None, gt=0, allow_inf_nan=False)
    min_samples: int = Field(30, ge=2, le=1_000_000)
    project: str | None = None
    workflow: str | None = None
    save: bool = True


@router.post("/drift/check", summary="Run a drift check now (stored and alerted unless save=false)")
def drift_check(request: Request, who: Write, body: DriftCheckIn) -> dict[str, Any]:
    from glassbox.monitoring.drift import check

    project = _project(who, body.project)
    filters = {"workflow": body.workflow} if body.workflow else {}
    report = check(
        request.app.state.store,
        tuple(body.fields),
        current=body.current,
        reference=body.reference,
        reference_release=body.reference_release,
        baseline=body.baseline,
        by=body.by,
        method=body.method,
        threshold=body.threshold,
        min_samples=body.min_samples,
        project=project,
        save=body.save,
        alert=body.save,
        **filters,
    )
    return report.to_dict()


@router.get("/feedback/trend", summary="Feedback per ISO week (and per release or workflow): ratings, sentiment")
def feedback_trend(
    request: Request,
    who: Read,
    project: str | None = None,
    by: Literal["release", "workflow"] | None = None,
    weeks: Annotated[int, Query(ge=1, le=520)] = 12,
) -> list[dict[str, Any]]:
    from glassbox.analysis.feedback import feedback_trend as trend

    return trend(request.app.state.store, by=by, weeks=weeks, project=_project(who, project))


# -- paths without /api/v1: the same handlers, auth and answers as the /api/v1 routes -------------------
aliases.add_api_route("/trace/{trace_id}", api.get_trace, methods=["GET"], summary="Alias of /api/v1/traces/{id}")
aliases.add_api_route(
    "/feedback", api.post_feedback, methods=["POST"], status_code=201, summary="Alias of POST /api/v1/feedback"
)
aliases.add_api_route(
    "/feedback/explicit",
    api.post_explicit,
    methods=["POST"],
    status_code=201,
    summary="Alias of POST /api/v1/feedback/explicit",
)
aliases.add_api_route(
    "/feedback/implicit",
    api.post_implicit,
    methods=["POST"],
    status_code=201,
    summary="Alias of POST /api/v1/feedback/implicit",
)
aliases.add_api_route(
    "/feedback/summary", api.get_feedback_summary, methods=["GET"], summary="Alias of /api/v1/feedback/summary"
)
aliases.add_api_route("/drift/summary", drift_summary, methods=["GET"], summary="Alias of /api/v1/drift/summary")


# -- the dashboard page --------------------------------------------------------------------------------
@pages.get("/drift")
def drift_page(request: Request, field: str | None = None) -> Response:
    from glassbox.analysis.feedback import feedback_trend as trend
    from glassbox.monitoring.drift import history, summary
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    store = request.app.state.store
    state = summary(store, project=who.project)
    rows = history(store, project=who.project, field=field, limit=2000)
    series: dict[str, dict[str, list[Any]]] = {}
    for r in reversed(rows):  # oldest first, one line per field and segment
        if r["score"] is None:
            continue
        name = r["field"] + (f" {r['segment_by']}={r['segment']}" if r["segment_by"] else "")
        s = series.setdefault(name, {"x": [], "y": [], "method": []})
        s["x"].append(r["at"])
        s["y"].append(r["score"])
        s["method"].append(r["method"])
    weekly = trend(store, weeks=12, project=who.project)
    charts = {
        "drift": [{"name": k, **v} for k, v in series.items()],
        "feedback": {
            "weeks": [w["week"] for w in weekly],
            "avg_rating": [w["avg_rating"] for w in weekly],
            "positive_share": [w["positive_share"] for w in weekly],
            "count": [w["feedback"] for w in weekly],
        },
    }
    return web.page(
        request,
        "drift_page.html",
        who=who,
        state=state,
        charts=charts,
        weekly=weekly,
        field=field,
        monitor=getattr(request.app.state, "drift_monitor", {}) or {},
    )


# -- /metrics gauges -----------------------------------------------------------------------------------
class DriftCollector:
    """Prometheus collector: the newest drift score and severity per project, field and segment, read at
    scrape time from the stored time series (so checks from the CLI or another worker show too)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._cache: tuple[float, list[dict[str, Any]]] = (0.0, [])

    def _latest(self) -> list[dict[str, Any]]:
        from glassbox.monitoring.drift import latest

        at, rows = self._cache
        if time.monotonic() - at > GAUGE_TTL_S:
            rows = latest(self.store)
            self._cache = (time.monotonic(), rows)
        return rows

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        from glassbox.monitoring.drift import SEVERITIES

        labels = ["project", "field", "segment_by", "segment", "method"]
        score = GaugeMetricFamily(
            "glassbox_drift_score", "Newest drift score (a p-value for ks/chisquare/z, else a distance).", labels=labels
        )
        severity = GaugeMetricFamily(
            "glassbox_drift_severity",
            "Newest drift severity: 0 none, 1 low, 2 medium, 3 high, 4 critical.",
            labels=labels,
        )
        drifted = GaugeMetricFamily("glassbox_drift_detected", "1 when the newest check found drift.", labels=labels)
        try:
            rows = self._latest()
        except Exception:  # noqa: BLE001 - a scrape must answer even when the store is down
            rows = []
        for r in rows:
            if r["status"] == "not_enough_data":
                continue
            values = [r["project"], r["field"], r["segment_by"] or "", r["segment"] or "", r["method"] or ""]
            if r["score"] is not None:
                score.add_metric(values, r["score"])
            severity.add_metric(values, SEVERITIES.index(r["severity"]))
            drifted.add_metric(values, 1.0 if r["drifted"] else 0.0)
        yield score
        yield severity
        yield drifted


def register_gauges(app: Any) -> None:
    """Add the drift gauges to the server's /metrics registry (once per app)."""
    if getattr(app.state, "drift_collector", None) is not None:
        return
    collector = DriftCollector(app.state.store)
    app.state.metrics.registry.register(collector)
    app.state.drift_collector = collector


# -- the background monitor ----------------------------------------------------------------------------
def _projects(store: Any, since: Any) -> list[str]:
    from sqlalchemy import select

    from glassbox.store.schema import traces

    with store.ready().engine.connect() as conn:
        return [r[0] for r in conn.execute(select(traces.c.project).where(traces.c.started_at >= since).distinct())]


def run_once(app: Any, settings: Any) -> dict[str, Any]:
    """One pass of the monitor over every project with runs in the current window."""
    from glassbox.analysis.filters import parse_time
    from glassbox.monitoring.drift import check

    store = app.state.store
    fields = tuple(f.strip() for f in settings.drift_fields.split(",") if f.strip())
    by = None if settings.drift_by == "none" else settings.drift_by
    drifted = 0
    projects = _projects(store, parse_time(settings.drift_current, "drift_current"))
    for project in projects:
        report = check(
            store,
            fields,
            current=settings.drift_current,
            reference=settings.drift_reference,
            by=by,
            min_samples=settings.drift_min_samples,
            project=project,
        )
        drifted += len(report.drifted)
    if getattr(app.state, "drift_collector", None) is not None:
        app.state.drift_collector._cache = (0.0, [])  # the next scrape reads the new results
    return {"projects": len(projects), "drifted": drifted}


def start(app: Any) -> Any:
    """Start the drift monitor (and the /metrics gauges); returns its stop function."""
    from glassbox.config import load_settings

    register_gauges(app)
    settings = load_settings()
    interval = float(settings.drift_interval)
    status: dict[str, Any] = {
        "interval_s": interval,
        "running": interval > 0,
        "last_check": None,
        "last_error": None,
        "checks": 0,
    }
    app.state.drift_monitor = status

    def health() -> tuple[str, str]:
        if not status["running"]:
            return "ok", "drift monitor off (drift_interval = 0)"
        if status["last_error"]:
            return "warn", f"last drift check failed: {status['last_error']}"
        return "ok", f"every {interval:g} s; last check {status['last_check'] or 'pending'}"

    app.state.health_checks["drift_monitor"] = health
    if interval <= 0:
        return None
    from glassbox.server.features import periodic

    # The first check a minute after start (or sooner), then every interval.
    return periodic(
        "drift check", lambda: run_once(app, settings), status, interval=interval, first=min(interval, 60.0)
    )
