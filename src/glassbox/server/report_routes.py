"""Reports on the server: ``/api/v1/reports`` (the list, one report built on demand), the dashboard's
``/reports`` pages, and the schedule that writes them (``[reports]`` settings; weekly by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from glassbox.errors import QueryError
from glassbox.server.auth import Principal, reader

router = APIRouter(prefix="/api/v1", tags=["reports"])
pages = APIRouter(include_in_schema=False)
Read = Annotated[Principal, Depends(reader)]
# A stored HTML report has inline styles and data: images only; nothing else may load or run.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _visible(who: Principal, project: str | None) -> bool:
    return who.project is None or project == who.project


@router.get("/reports", summary="Reports written so far (newest first)")
def list_reports(
    request: Request, who: Read, kind: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    from glassbox.reports.archive import listed

    rows = listed(request.app.state.store, project=who.project, kind=kind, limit=limit)
    return [r.to_dict() for r in rows]


@router.get("/reports/build/{kind}", summary="Build a cost, quality or weekly report now (not stored)")
def build_report(
    request: Request,
    who: Read,
    kind: Literal["cost", "quality", "weekly"],
    days: Annotated[float | None, Query(gt=0, le=3650)] = None,
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    format: Literal["json", "md", "html"] = "json",
) -> Response:
    from glassbox.analysis.query import Query as TraceQuery
    from glassbox.reports import archive
    from glassbox.reports.build import build
    from glassbox.reports.period import period

    if days is not None and (since or until):
        raise QueryError("give days or since/until, not both")
    rep = build(
        kind, TraceQuery(request.app.state.store), period(days, since, until), project=who.filter_project(project)
    )
    body = archive.render(rep, format)
    if format == "json":
        return Response(body, media_type="application/json")
    if format == "html":
        return HTMLResponse(body, headers={"Content-Security-Policy": REPORT_CSP})
    return PlainTextResponse(body, media_type="text/markdown; charset=utf-8")


@pages.get("/reports")
def reports_page(request: Request) -> Response:
    from glassbox.reports.archive import listed
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    rows = [r for r in listed(request.app.state.store, limit=200) if _visible(who, r.project)]
    settings = getattr(request.app.state, "report_settings", None)
    return web.page(request, "reports.html", who=who, rows=rows, settings=settings)


@pages.get("/reports/{report_id}")
def report_file(request: Request, report_id: str) -> Response:
    from glassbox.errors import NotFound
    from glassbox.reports.archive import get
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    try:
        rec = get(request.app.state.store, report_id)
        if not _visible(who, rec.project):
            raise NotFound(report_id)
        body = Path(rec.path).read_text(encoding="utf-8")
    except (NotFound, OSError):
        return web.page(request, "missing.html", who=who, status=404, what=f"report {report_id}")
    headers = {"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if rec.format == "html":
        return HTMLResponse(body, headers=headers)
    if rec.format == "json":
        return Response(body, media_type="application/json", headers=headers)
    return PlainTextResponse(body, headers=headers)


def start(app: Any) -> Any:
    """The report schedule (``[reports] schedule``; weekly by default, ``off`` disables it)."""
    from glassbox.config import load_settings
    from glassbox.reports.schedule import CHECK_S, FIRST_CHECK_S, interval, run_due
    from glassbox.server.features import periodic

    settings = load_settings()
    app.state.report_settings = settings
    every = interval(settings.reports_schedule)
    status: dict[str, Any] = {
        "schedule": settings.reports_schedule,
        "last_check": None,
        "last_error": None,
        "checks": 0,
        "written": [],
    }
    app.state.report_job = status

    def health() -> tuple[str, str]:
        if every is None:
            return "ok", "scheduled reports off (reports_schedule = off)"
        if status["last_error"]:
            return "warn", f"last scheduled report failed: {status['last_error']}"
        return "ok", f"{settings.reports_schedule}; last check {status['last_check'] or 'pending'}"

    app.state.health_checks["reports"] = health
    if every is None:
        return None

    def run() -> dict[str, Any]:
        return {"written": [str(p) for p in run_due(app.state.store, settings)]}

    return periodic("scheduled reports", run, status, interval=CHECK_S, first=FIRST_CHECK_S)
