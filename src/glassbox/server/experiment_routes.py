"""Experiments and feature flags on the server: REST (``/api/v1/experiments…``, ``/api/v1/feature-flags…``) and
the dashboard pages (``/experiments``, ``/experiments/{name}``: allocation, SRM status, each metric with its CI,
the verdict). ``/api/v1/flags`` is calibration alerts (api.py): feature flags live under ``feature-flags``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from glassbox.errors import QueryError
from glassbox.server.auth import Principal, reader, writer

router = APIRouter(prefix="/api/v1", tags=["experiments"])
pages = APIRouter(include_in_schema=False)
Read = Annotated[Principal, Depends(reader)]
Write = Annotated[Principal, Depends(writer)]
Spec = Annotated[
    dict[str, Any], Body(description="The definition (see docs/experiments.md); name comes from the path.")
]

_MEDIA = {"markdown": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "json": "application/json"}


def _project(who: Principal) -> str:
    return who.project or "default"


def _actor(who: Principal) -> str:
    return f"key:{who.key_id}" if who.key_id else "api"


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise QueryError("name: expected 1 to 200 characters")
    return name


# -- sample size (before /experiments/{name}) ----------------------------------------------------
@router.get("/experiments/power", summary="Units needed per variant to detect an effect")
def power(
    mde: Annotated[float, Query(allow_inf_nan=False)],
    baseline_rate: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    sd: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    relative: bool = False,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
    power: Annotated[float, Query(gt=0, lt=1)] = 0.8,
    ratio: Annotated[float, Query(gt=0, le=100)] = 1.0,
    _who: Read = None,
) -> dict[str, Any]:  # type: ignore[assignment]
    import math

    from glassbox.stats.power import sample_size_means, sample_size_proportions

    if (baseline_rate is None) == (sd is None):
        raise QueryError("give baseline_rate (a rate metric) or sd (a mean metric), not both")
    try:
        n = (
            sample_size_proportions(baseline_rate, mde, alpha, power, ratio, relative=relative)
            if baseline_rate is not None
            else sample_size_means(mde, sd, alpha, power, ratio)
        )  # type: ignore[arg-type]
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    n_a, n_b = math.ceil(n - 1e-9), math.ceil(n * ratio - 1e-9)
    return {"control": n_a, "treatment": n_b, "total": n_a + n_b, "exact": n, "alpha": alpha, "power": power}


# -- definitions ---------------------------------------------------------------------------------
def _list(request: Request, who: Principal, kind: str) -> list[dict[str, Any]]:
    from glassbox.experiments import registry

    return [d.to_dict() for d in registry.list_definitions(request.app.state.store, kind, project=_project(who))]


def _one(request: Request, who: Principal, kind: str, name: str) -> dict[str, Any]:
    from glassbox.experiments import registry

    store = request.app.state.store
    current = registry.get(store, kind, name, project=_project(who))
    return {**current.to_dict(), "history": registry.history(store, kind, name, project=_project(who))}


def _put(request: Request, who: Principal, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    from glassbox.experiments import registry

    saved = registry.save(
        request.app.state.store, kind, {**spec, "name": _check_name(name)}, actor=_actor(who), project=_project(who)
    )
    return saved.to_dict()


def _kill(request: Request, who: Principal, kind: str, name: str, killed: bool) -> dict[str, Any]:
    from glassbox.experiments import registry

    return registry.set_killed(
        request.app.state.store, kind, name, killed, actor=_actor(who), project=_project(who)
    ).to_dict()


@router.get("/experiments", summary="Defined experiments")
def list_experiments(request: Request, who: Read) -> list[dict[str, Any]]:
    return _list(request, who, "experiment")


@router.get("/experiments/{name}", summary="One experiment's definition and its history")
def get_experiment(request: Request, who: Read, name: str) -> dict[str, Any]:
    return _one(request, who, "experiment", name)


@router.put("/experiments/{name}", summary="Create or change an experiment (a new version)")
def put_experiment(request: Request, who: Write, name: str, spec: Spec) -> dict[str, Any]:
    return _put(request, who, "experiment", name, spec)


@router.post("/experiments/{name}/kill", summary="Stop assigning: everyone gets the control")
def kill_experiment(request: Request, who: Write, name: str) -> dict[str, Any]:
    return _kill(request, who, "experiment", name, True)


@router.post("/experiments/{name}/revive", summary="Undo a kill")
def revive_experiment(request: Request, who: Write, name: str) -> dict[str, Any]:
    return _kill(request, who, "experiment", name, False)


@router.get("/experiments/{name}/analysis", summary="The experiment's analysis: allocation, SRM, metrics, verdict")
def experiment_analysis(
    request: Request,
    who: Read,
    name: str,
    sequential: bool = False,
    cuped: bool = False,
    correction: Literal["holm", "bh", "none"] | None = None,
    alpha: Annotated[float | None, Query(gt=0, lt=0.5)] = None,
) -> dict[str, Any]:
    from glassbox.experiments.analysis import analyze

    a = analyze(
        request.app.state.store,
        name,
        project=_project(who),
        sequential=sequential,
        cuped=cuped,
        correction=correction,
        alpha=alpha,
    )
    import json

    from glassbox.experiments.report import to_json

    return json.loads(to_json(a))  # type: ignore[no-any-return]


@router.get("/experiments/{name}/report", summary="The experiment's report as Markdown, HTML or JSON")
def experiment_report(
    request: Request, who: Read, name: str, format: Literal["markdown", "html", "json"] = "markdown"
) -> Response:
    from glassbox.experiments.report import experiment_report as render

    text = render(request.app.state.store, name, format, project=_project(who))
    return PlainTextResponse(text, media_type=_MEDIA[format])


@router.get("/feature-flags", summary="Defined feature flags")
def list_flags(request: Request, who: Read) -> list[dict[str, Any]]:
    return _list(request, who, "flag")


@router.get("/feature-flags/{name}", summary="One flag's definition and its history")
def get_flag(request: Request, who: Read, name: str) -> dict[str, Any]:
    return _one(request, who, "flag", name)


@router.put("/feature-flags/{name}", summary="Create or change a flag (a new version)")
def put_flag(request: Request, who: Write, name: str, spec: Spec) -> dict[str, Any]:
    return _put(request, who, "flag", name, spec)


@router.post("/feature-flags/{name}/kill", summary="Kill switch: serve the default everywhere")
def kill_flag(request: Request, who: Write, name: str) -> dict[str, Any]:
    return _kill(request, who, "flag", name, True)


@router.post("/feature-flags/{name}/revive", summary="Turn the kill switch off")
def revive_flag(request: Request, who: Write, name: str) -> dict[str, Any]:
    return _kill(request, who, "flag", name, False)


# -- dashboard -----------------------------------------------------------------------------------
@pages.get("/experiments")
def experiments_page(request: Request) -> Response:
    from glassbox.experiments import registry
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    store = request.app.state.store
    project = _project(who)
    return web.page(
        request,
        "experiments.html",
        experiments=registry.list_definitions(store, "experiment", project=project),
        flags=registry.list_definitions(store, "flag", project=project),
    )


def _forest(rows: list[Any]) -> list[dict[str, Any]]:
    """Each metric's CI as a bar on a shared relative scale (percent positions, numbers only)."""
    out = []
    for r in rows:
        t = r.relative if r.relative and r.relative.get("ci_low") is not None else None
        out.append({"row": r, "rel": t})
    spans = [abs(x) for f in out if f["rel"] for x in (f["rel"]["ci_low"], f["rel"]["ci_high"])]
    scale = max(spans) if spans else 1.0
    for f in out:
        if f["rel"]:
            lo, hi = f["rel"]["ci_low"] / scale, f["rel"]["ci_high"] / scale
            f["left"], f["width"] = 50 + 45 * lo, max(45 * (hi - lo), 0.5)
            f["mid"] = 50 + 45 * f["rel"]["estimate"] / scale
    return out


@pages.get("/experiments/{name:path}")
def experiment_page(request: Request, name: str, sequential: bool = False, cuped: bool = False) -> Response:
    from glassbox.errors import NotFound
    from glassbox.experiments.analysis import analyze
    from glassbox.experiments.report import headline
    from glassbox.server import web

    who = web.viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    try:
        a = analyze(request.app.state.store, name, project=_project(who), sequential=sequential, cuped=cuped)
    except NotFound as exc:
        return web.page(request, "missing.html", status=404, what="experiment", message=str(exc))
    return web.page(
        request,
        "experiment.html",
        a=a,
        headline=headline(a).replace("**", ""),
        metrics=_forest(a.results),
        guards=_forest(a.guardrails),
    )
