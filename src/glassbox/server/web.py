"""The web dashboard: server-rendered pages (Jinja2, autoescaped) over the query API.

Pages: runs (every filter in the URL), run detail (waterfall, decisions, LLM calls, scores,
flags, review), compare, overview (charts), flags. Trace content is hostile by assumption:
everything is escaped, data for charts travels as a JSON block (never inline script), a strict
Content-Security-Policy forbids inline script, and state-changing forms carry a CSRF token
(double submit: a cookie and a form field that must match).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from glassbox.analysis.filter_spec import TRACE_FILTERS
from glassbox.analysis.query import Query
from glassbox.model import GAP_RATIO, span_tree, walk
from glassbox.server import run_view
from glassbox.server.auth import COOKIE, AuthError, Principal, principal

HERE = Path(__file__).parent
CSRF_COOKIE = "glassbox_csrf"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
FILTER_KEYS = tuple(TRACE_FILTERS.by_param())  # the runs page's URL takes every filter the REST API does
OVERVIEW_TTL_S = 30.0

router = APIRouter(include_in_schema=False)
env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    size = abs(ms)  # compare deltas are negative: "-34 ms", not "-33748 µs"
    if size < 1:  # a fast stage reads "180 µs", not "0 ms"
        return f"{ms * 1000:.0f} µs"
    return f"{ms:.0f} ms" if size < 1000 else f"{ms / 1000:.2f} s"


def _fmt_cost(usd: float | None) -> str:
    if usd is None:
        return "—"
    sign, size = ("-" if usd < 0 else ""), abs(usd)
    if size >= 1:
        return f"{sign}${size:,.2f}"
    if 0 < size < 0.00005:  # a cheap call or a small delta keeps its digits instead of "$0.0000"
        return f"{sign}<$0.000001" if size < 1e-6 else f"{sign}${size:.6f}".rstrip("0")
    return f"{sign}${size:.4f}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)


def _num(v: Any) -> str:
    """Two decimals; None, text and NaN (stored by older versions) shown as they are, never a 500."""
    if v is None:
        return "—"
    try:
        return f"{float(v):.2f}"
    except (TypeError, ValueError):
        return str(v)


env.filters.update(
    ms=_fmt_ms, cost=_fmt_cost, text=_text, num=_num, pct=lambda v: "—" if v is None else f"{100 * v:.0f}%"
)
env.globals["GAP_RATIO"] = GAP_RATIO  # a score dimension below this share of its maximum is shown as a gap
env.globals["TRACE_FILTERS"] = TRACE_FILTERS  # the runs filter form has one field per filter


def _page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    html = env.get_template(template).render(request=request, csrf=token, who=ctx.pop("who", None), **ctx)
    resp = HTMLResponse(html, status_code=status)
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    _secure_headers(resp)
    return resp


def _secure_headers(resp: Response) -> None:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cache-Control"] = "no-store"


def _viewer(request: Request) -> Principal | RedirectResponse:
    try:
        return principal(request, "read")
    except AuthError:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': nxt})}", status_code=303)


def _check_csrf(request: Request, token: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not token or not secrets.compare_digest(cookie, token):
        raise AuthError(403, "csrf", "the form expired or came from another site; reload the page and retry")


def _filters(request: Request, who: Principal) -> dict[str, Any]:
    q = request.query_params
    out: dict[str, Any] = {}
    for key, spec in TRACE_FILTERS.by_param().items():
        values = [v for v in q.getlist(key) if v.strip()]
        if not values:
            continue
        out[spec.name] = values if spec.kind == "list" else values[0].strip()
    project = who.filter_project(out.get("project"))
    if project:
        out["project"] = project
    return out


def _q(request: Request) -> Query:
    return Query(request.app.state.store)


# -- login -----------------------------------------------------------------------------------------
def _safe_next(target: str) -> str:
    """Only a path on this server: no scheme, no host, no ``//`` or ``/\\`` tricks (open redirects)."""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
        and ":" not in target.split("?", maxsplit=1)[0]
    ):
        return target
    return "/runs"


@router.get("/login")
def login_form(request: Request, next: str = "/runs") -> HTMLResponse:
    return _page(request, "login.html", next=_safe_next(next))


@router.post("/login")
def login(request: Request, key: str = Form(...), csrf: str = Form(""), next: str = Form("/runs")) -> Response:
    from glassbox.store.keys import verify

    _check_csrf(request, csrf)
    record = verify(request.app.state.store, key.strip())
    if record is None:
        return _page(request, "login.html", status=401, next=next, error="That key is not valid (or revoked).")
    target = _safe_next(next)
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        COOKIE, key.strip(), httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=7 * 86400
    )
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    _check_csrf(request, csrf)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


# -- pages -----------------------------------------------------------------------------------------
@router.get("/")
def home() -> Response:
    return RedirectResponse("/runs", status_code=307)


@router.get("/runs")
def runs(request: Request, cursor: str | None = None, limit: int = 50) -> Response:
    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    from glassbox.errors import QueryError

    filters = _filters(request, who)
    if (who.project, "7d") not in request.app.state.__dict__.get("overview_cache", {}):
        _warm_overview(request, who)
    error = None
    try:
        page = _q(request).traces(limit=max(1, min(limit, 200)), cursor=cursor, **filters)
    except QueryError as exc:
        error, page = str(exc), None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    next_url = f"/runs?{urlencode([*params, ('cursor', page.next_cursor)])}" if page and page.next_cursor else None
    api = f"/api/v1/traces?{urlencode(request.query_params.multi_items())}"
    return _page(
        request,
        "runs.html",
        who=who,
        items=page.items if page else [],
        filters=filters,
        error=error,
        next_url=next_url,
        api_url=api,
        status=400 if error else 200,
    )


@router.get("/runs/{trace_id}")
def run_detail(request: Request, trace_id: str) -> Response:
    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    from glassbox.analysis.compare import _quality
    from glassbox.analysis.nodes import node_rows
    from glassbox.errors import TraceNotFound

    try:
        t = _q(request).trace(trace_id.strip().lower(), project=who.project)
        if who.project is not None and t.project != who.project:
            raise TraceNotFound(trace_id)
    except TraceNotFound:
        return _page(request, "missing.html", who=who, status=404, what=f"run {trace_id}")
    return _page(
        request,
        "run.html",
        who=who,
        t=t,
        timeline=_timeline(t),
        nodes=node_rows(t),
        quality=_quality(t),
        can_write=who.scope == "write",
        capture=_capture_on(request),
        recent=_q(request).traces(limit=20, project=t.project, workflow=t.workflow).items,
    )


def _capture_on(request: Request) -> bool | None:
    """Whether the server keeps prompt/completion text (None: not known here — the SDK decides for its own runs)."""
    return getattr(request.app.state, "capture_content", None)


def _timeline(t: Any) -> list[dict[str, Any]]:
    """Stages depth-first with their bar position (% of the run) for the waterfall."""
    start = t.start_ns or min((s.start_ns for s in t.spans), default=0)
    end = t.end_ns or max((s.end_ns or s.start_ns for s in t.spans), default=start)
    total = max(end - start, 1)
    decisions: dict[str, list[Any]] = {}
    for d in t.decisions:
        decisions.setdefault(d.span_id or "", []).append(d)
    events: dict[str, list[Any]] = {}
    for e in t.events:
        events.setdefault(e.span_id or "", []).append(e)
    out: list[dict[str, Any]] = []
    for node in walk(span_tree(t)):
        s = node.span
        left = 100 * (s.start_ns - start) / total
        width = 100 * ((s.end_ns or end) - s.start_ns) / total
        mine = decisions.get(s.span_id, [])
        out.append(
            {
                "span": s,
                "depth": min(node.depth, 12),
                "left": round(max(0.0, left), 3),
                "width": round(max(0.4, min(width, 100 - left)), 3),
                "decisions": mine,
                "events": events.get(s.span_id, []),
                "badges": run_view.badges(s, len(mine)),
                "llm": run_view.llm_card(s),
            }
        )
    return out


@router.post("/runs/{trace_id}/review")
def review(
    request: Request, trace_id: str, notes: str = Form(""), flagged: str = Form(""), csrf: str = Form("")
) -> Response:
    _check_csrf(request, csrf)
    who = principal(request, "write")
    store = request.app.state.store
    t = store.get_trace(trace_id)
    if who.project is not None and t.project != who.project:
        raise AuthError(403, "forbidden", "not your project's run")
    store.set_review(t.trace_id, flagged=flagged == "on", notes=notes[:10_000])
    return RedirectResponse(f"/runs/{t.trace_id}#review", status_code=303)


@router.get("/compare")
def compare(request: Request, a: str = "", b: str = "") -> Response:
    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    from glassbox.analysis.compare import compare_traces
    from glassbox.errors import TraceNotFound

    if not a or not b:  # the run picker: the runs list's filters, each row a link that completes the pair
        from glassbox.errors import QueryError

        filters, found, problem = _filters(request, who), [], None
        try:
            found = _q(request).traces(limit=50, **filters).items
        except QueryError as exc:
            problem = str(exc)
        return _page(
            request,
            "compare.html",
            who=who,
            c=None,
            a=a.strip().lower(),
            b=b,
            picker=found,
            picker_error=problem,
            filters=filters,
            status=400 if problem else 200,
        )
    try:
        ta = _q(request).trace(a.strip().lower(), project=who.project)
        tb = _q(request).trace(b.strip().lower(), project=who.project)
        if who.project is not None and (ta.project != who.project or tb.project != who.project):
            raise TraceNotFound(a)
    except TraceNotFound:
        return _page(request, "missing.html", who=who, status=404, what="one of the two runs")
    return _page(
        request,
        "compare.html",
        who=who,
        c=compare_traces(ta, tb),
        a=ta.trace_id,
        b=tb.trace_id,
        picker=None,
        filters={},
    )


@router.get("/overview")
def overview(request: Request, range: str = "7d") -> Response:
    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    window = range if range in ("24h", "7d", "30d", "90d") else "7d"
    data = _overview_data(request, who, window)
    return _page(request, "overview.html", who=who, d=data, window=window, charts=data["charts"])


def _warm_overview(request: Request, who: Principal, window: str = "7d") -> None:
    """(Re)compute an overview in the background: on the runs list, and when a cached one is stale.

    Its aggregates read every span of the window, which takes seconds on a store of millions;
    pages show the cached figures (with their time) while fresh ones are computed.
    """
    key = (who.project, window)
    if key in _warming:
        return
    _warming.add(key)

    def work() -> None:
        try:
            _compute_overview(request, who, window)
        except Exception:  # noqa: BLE001 - a failed refresh just leaves the older figures
            pass
        finally:
            _warming.discard(key)

    threading.Thread(target=work, name="glassbox-overview", daemon=True).start()


_warming: set[Any] = set()


def _overview_data(request: Request, who: Principal, window: str) -> dict[str, Any]:
    cache: dict[Any, Any] = request.app.state.__dict__.setdefault("overview_cache", {})
    hit = cache.get((who.project, window))
    if hit is None:
        return _compute_overview(request, who, window)
    if time.monotonic() - hit[0] >= OVERVIEW_TTL_S:
        _warm_overview(request, who, window)  # stale: serve it, refresh behind
    return hit[1]


def _compute_overview(request: Request, who: Principal, window: str) -> dict[str, Any]:
    cache: dict[Any, Any] = request.app.state.__dict__.setdefault("overview_cache", {})
    key = (who.project, window)
    q = _q(request)
    f: dict[str, Any] = {"since": window}
    if who.project:
        f["project"] = who.project
    days = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}[window]
    trend = q.group_by("day", ["runs", "failed", "success_rate", "avg_quality", "pass_rate", "total_cost_usd"], **f)
    costs = q.cost_stats(by="model", days=days, project=who.project)
    data = {
        "summary": q.summary(**f),
        "latency": q.latency(by="workflow", **f),
        "by_workflow": q.group_by(
            "workflow", ["runs", "success_rate", "avg_quality", "pass_rate", "avg_cost_usd"], **f
        ),
        "failures": q.failed_stages(limit=10, **f),
        "principles": q.principle_patterns(min_runs=3, **f)["overall"][:10],
        "costs": costs,
        "as_of": time.strftime("%H:%M:%S UTC", time.gmtime()),
    }
    data["charts"] = {
        "days": [r["day"] for r in trend],
        "runs": [r["runs"] for r in trend],
        "error_rate": [None if not r["runs"] else round(r["failed"] / r["runs"], 4) for r in trend],
        "quality": [r["avg_quality"] for r in trend],
        "pass_rate": [r["pass_rate"] for r in trend],
        "cost": [r["total_cost_usd"] or 0 for r in trend],
        "latency": {
            "workflows": [str(r["workflow"]) for r in data["latency"]],
            "p50": [r["p50_ms"] for r in data["latency"]],
            "p95": [r["p95_ms"] for r in data["latency"]],
            "p99": [r["p99_ms"] for r in data["latency"]],
        },
        "models": {"names": [str(g["key"]) for g in costs["groups"]], "cost": [g["cost_usd"] for g in costs["groups"]]},
    }
    cache[key] = (time.monotonic(), data)
    return data


# /alerts (and the old /flags) are pages of glassbox.server.monitoring_routes.


# -- static files ----------------------------------------------------------------------------------
@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name == "plotly.min.js":  # shipped inside the plotly package: no CDN, works offline
        import plotly

        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    else:
        path = HERE / "static" / name
        try:
            found = path.parent == HERE / "static" and path.is_file()
        except (OSError, ValueError):  # a name too long for the file system, or with a NUL
            found = False
        if not found:
            return Response(status_code=404)
    resp = FileResponse(path)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# Public names for the features' dashboard pages (glassbox.server.features): same rendering, same access checks.
page = _page
viewer = _viewer
check_csrf = _check_csrf
