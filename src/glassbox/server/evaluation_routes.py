"""Evaluation on the server: REST for datasets, regression runs, goldens, gates and canaries; dashboard pages.

Every read is scoped to the caller's project (a key sees its own project only); pushing a dataset,
judging a gate or a canary (both record their verdicts) needs write scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from glassbox.server.auth import Principal, reader, writer

router = APIRouter(prefix="/api/v1", tags=["evaluation"])
pages = APIRouter(include_in_schema=False)
Read = Annotated[Principal, Depends(reader)]
Write = Annotated[Principal, Depends(writer)]


def _store(request: Request) -> Any:
    return request.app.state.store


def _project(who: Principal, project: str | None) -> str:
    return who.filter_project(project) or "default"


def _run(request: Request, who: Principal, run_id: str) -> Any:
    from glassbox.evaluation.regress import RunNotFound, load_run

    run = load_run(_store(request), run_id)
    if who.project is not None and run.project != who.project:
        raise RunNotFound(f"no regression run {run_id!r}")
    return run


# -- datasets ---------------------------------------------------------------------------------------
@router.get("/datasets", summary="Every dataset version, newest first per name")
def list_datasets(request: Request, who: Read, project: str | None = None) -> list[dict[str, Any]]:
    from glassbox.evaluation.datasets import list_datasets as listed

    return listed(_store(request), project=who.filter_project(project))


@router.get("/datasets/{name}", summary="One dataset version (newest unless version=) with its cases")
def get_dataset(
    request: Request, who: Read, name: str, version: str | None = None, project: str | None = None
) -> dict[str, Any]:
    from glassbox.evaluation.datasets import get

    ds = get(_store(request), name, version, project=_project(who, project))
    return {**ds.info(), "items": [c.to_dict() for c in ds.cases]}


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    jsonl: str | None = Field(None, max_length=20_000_000, description="The cases as JSONL text")
    cases: list[dict[str, Any]] | None = Field(None, max_length=100_000, description="Or the cases as objects")
    description: str | None = Field(None, max_length=2000)
    project: str | None = Field(None, max_length=200)


@router.post("/datasets", status_code=201, summary="Push cases as a version of a dataset (checked line by line)")
def push_dataset(request: Request, who: Write, body: DatasetIn) -> dict[str, Any]:
    import json

    from glassbox.errors import GlassboxError
    from glassbox.evaluation import datasets

    if (body.jsonl is None) == (body.cases is None):
        raise GlassboxError("give the cases as jsonl text or as a cases list (one of them)")
    text = body.jsonl if body.jsonl is not None else "".join(json.dumps(c) + "\n" for c in body.cases or [])
    cases = datasets.parse_jsonl(text, "body")
    ds, created = datasets.push(
        _store(request),
        cases,
        body.name,
        project=_project(who, body.project),
        description=body.description,
        source="api",
    )
    return {**ds.info(), "created": created}


# -- regression runs ------------------------------------------------------------------------------
@router.get("/regressions", summary="Stored regression runs, newest first")
def list_regressions(
    request: Request,
    who: Read,
    dataset: str | None = None,
    project: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    from glassbox.evaluation.regress import list_runs

    return list_runs(_store(request), project=who.filter_project(project), dataset=dataset, limit=limit)


@router.get("/regressions/compare", summary="Run b against run a, case by case")
def compare_regressions(request: Request, who: Read, a: str, b: str) -> dict[str, Any]:
    from glassbox.evaluation.regress import compare_runs

    return compare_runs(_run(request, who, a), _run(request, who, b))


@router.get("/regressions/{run_id}", summary="One regression run with its per-case results")
def get_regression(request: Request, who: Read, run_id: str) -> dict[str, Any]:
    return _run(request, who, run_id).to_dict()


# -- goldens --------------------------------------------------------------------------------------
@router.get("/goldens", summary="Golden traces (without their snapshots)")
def list_goldens(request: Request, who: Read, project: str | None = None) -> list[dict[str, Any]]:
    from glassbox.evaluation.golden import list_goldens as listed

    return [
        {k: v for k, v in g.to_dict().items() if k != "snapshot"}
        for g in listed(_store(request), project=who.filter_project(project))
    ]


@router.get("/goldens/{name}/compare/{trace_id}", summary="A stored run against a golden")
def compare_golden(request: Request, who: Read, name: str, trace_id: str, project: str | None = None) -> dict[str, Any]:
    from glassbox.errors import TraceNotFound
    from glassbox.evaluation import golden

    store = _store(request)
    g = golden.get(store, name, project=_project(who, project))
    run = store.get_trace(trace_id)
    if who.project is not None and run.project != who.project:
        raise TraceNotFound(f"no trace {trace_id!r}")
    return golden.compare(g, run, g.reference(store)).to_dict()


# -- gates and canaries --------------------------------------------------------------------------
class GateIn(BaseModel):
    baseline: str = Field(min_length=1, max_length=500, description="e.g. release=2026.11")
    candidate: str = Field(min_length=1, max_length=500)
    thresholds: dict[str, str] = Field(default_factory=dict, description="max_error_rate, max_p95, min_quality…")
    min_samples: int = Field(30, ge=2, le=10_000_000)
    confidence: float = Field(0.98, gt=0.5, lt=1.0)
    record: bool = True


def _specs(thresholds: dict[str, str]) -> list[Any]:
    from glassbox.evaluation.api import _specs as specs

    return specs(thresholds)


@router.post("/gate", summary="Judge a candidate population against a baseline (recorded)")
def gate(request: Request, who: Write, body: GateIn) -> dict[str, Any]:
    from glassbox.evaluation.gate import run_gate

    v = run_gate(
        _store(request),
        _scoped(body.baseline, who),
        _scoped(body.candidate, who),
        _specs(body.thresholds),
        record=body.record,
        confidence=body.confidence,
        min_samples=body.min_samples,
        project=who.project,
    )
    return v.to_dict()


def _scoped(spec: str, who: Principal) -> dict[str, Any]:
    from glassbox.evaluation.gate import parse_population

    filters = parse_population(spec)
    if who.project is not None:
        filters["project"] = who.filter_project(filters.get("project"))
    return filters


class CanaryIn(GateIn):
    candidate: str = Field("", max_length=500)
    canary: str = Field(min_length=1, max_length=500)
    name: str | None = Field(None, max_length=200)
    ramp: str = Field("5,25,50,100", max_length=200)
    step: int | None = Field(None, ge=0, le=100)


@router.post("/canary/check", summary="Promote / hold / rollback a canary along its ramp (recorded)")
def canary_check(request: Request, who: Write, body: CanaryIn) -> dict[str, Any]:
    from glassbox.evaluation import canary
    from glassbox.evaluation.gate import DEFAULT_SPECS

    specs = _specs(body.thresholds) if body.thresholds else list(DEFAULT_SPECS)
    d = canary.check(
        _store(request),
        _scoped(body.baseline, who),
        _scoped(body.canary, who),
        name=body.name,
        ramp=canary.parse_ramp(body.ramp),
        step=body.step,
        specs=specs,
        project=who.project,
        confidence=body.confidence,
        min_samples=body.min_samples,
    )
    return d.to_dict()


@router.get("/verdicts", summary="Recorded gate and canary verdicts, newest first")
def verdicts(
    request: Request,
    who: Read,
    kind: str | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    from glassbox.evaluation.gate import list_verdicts

    rows = list_verdicts(_store(request), kind=kind, name=name, limit=limit if who.project is None else 1000)
    if who.project is not None:
        rows = [r for r in rows if r["project"] == who.project][:limit]
    return rows


# -- dashboard pages -------------------------------------------------------------------------------
def _viewer(request: Request) -> Any:
    from glassbox.server import web

    return web.viewer(request)


@pages.get("/datasets")
def datasets_page(request: Request, name: str | None = None, version: str | None = None) -> Response:
    from glassbox.evaluation import datasets
    from glassbox.server import web

    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    rows = datasets.list_datasets(_store(request), project=who.project)
    chosen = None
    if name:
        chosen = datasets.get(_store(request), name, version, project=who.project or "default")
    return web.page(request, "evaluation_datasets.html", who=who, rows=rows, chosen=chosen)


@pages.get("/regressions")
def regressions_page(request: Request, a: str | None = None, b: str | None = None) -> Response:
    from glassbox.evaluation.regress import compare_runs, list_runs
    from glassbox.server import web

    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    runs = list_runs(_store(request), project=who.project, limit=100)
    diff = compare_runs(_run(request, who, a), _run(request, who, b)) if a and b else None
    return web.page(request, "evaluation_regressions.html", who=who, runs=runs, diff=diff, a=a or "", b=b or "")


@pages.get("/regressions/{run_id}")
def regression_page(request: Request, run_id: str) -> Response:
    from glassbox.server import web

    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    return web.page(request, "evaluation_regression.html", who=who, run=_run(request, who, run_id))


@pages.get("/goldens")
def goldens_page(request: Request) -> Response:
    from glassbox.evaluation.gate import list_verdicts
    from glassbox.evaluation.golden import list_goldens
    from glassbox.server import web

    who = _viewer(request)
    if isinstance(who, RedirectResponse):
        return who
    items = list_goldens(_store(request), project=who.project)
    recent = [v for v in list_verdicts(_store(request), limit=200) if who.project in (None, v["project"])][:20]
    return web.page(request, "evaluation_goldens.html", who=who, items=items, verdicts=recent)
