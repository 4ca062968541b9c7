"""REST API under ``/api/v1``: the query API over HTTP, plus scores, feedback and review.

Every read is scoped to the caller's project (see ``auth``). Errors have one shape:
``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from glassbox.analysis.filter_spec import TRACE_FILTERS, TraceFilter
from glassbox.analysis.query import GROUP_DIMS
from glassbox.analysis.query import Query as TraceQuery
from glassbox.ids import new_record_id
from glassbox.model import GAP_RATIO, Feedback, Score, Trace
from glassbox.server.auth import Principal, reader, writer
from glassbox.store.annotations import add_feedback, add_score, feedback_summary
from glassbox.user_feedback import SIGNALS, annotation
from glassbox.writer import RateLimitedLog

# The dimensions runs group by, as the query API declares them (one list: a new one appears here too).
GroupDim = Literal[GROUP_DIMS]  # type: ignore[valid-type]

router = APIRouter(prefix="/api/v1", tags=["api"])
Read = Annotated[Principal, Depends(reader)]
Write = Annotated[Principal, Depends(writer)]


def _filter_parameter(f: TraceFilter) -> inspect.Parameter:
    kind: Any = {"text": str, "time": str, "number": float, "flag": bool, "list": list[str]}.get(f.kind)
    if f.kind == "choice":
        kind = Literal[f.choices]  # type: ignore[valid-type]
    return inspect.Parameter(
        f.query_param,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[kind | None, Query(description=f.help)],
    )


def trace_filters(**params: Any) -> dict[str, Any]:
    """The trace filters of the query API (``analysis.filter_spec``), as query parameters."""
    by_param = TRACE_FILTERS.by_param()
    return {by_param[k].name: v for k, v in params.items() if v is not None and v != []}


# FastAPI reads the parameters from the signature: one per filter of the spec.
trace_filters.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [_filter_parameter(f) for f in TRACE_FILTERS], return_annotation=dict[str, Any]
)

Filters = Annotated[dict[str, Any], Depends(trace_filters)]


def _q(request: Request) -> TraceQuery:
    return TraceQuery(request.app.state.store)


def _scoped(filters: dict[str, Any], who: Principal) -> dict[str, Any]:
    project = who.filter_project(filters.get("project"))
    return {**filters, "project": project} if project is not None else filters


def _visible(request: Request, who: Principal, trace_id: str) -> Any:
    from glassbox.errors import TraceNotFound

    t = _q(request).trace(trace_id.strip().lower(), project=who.project)  # a prefix looks at the caller's runs only
    if who.project is not None and t.project != who.project:
        raise TraceNotFound(f"no trace {trace_id!r}")  # another project's run: as good as absent
    return t


@router.get("/traces", summary="Run summaries, newest first (cursor pagination)")
def list_traces(
    request: Request,
    who: Read,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    return _q(request).traces(limit=limit, cursor=cursor, **_scoped(filters, who)).to_dict()


@router.get("/traces/{trace_id}", summary="One run, whole (the trail document)")
def get_trace(request: Request, who: Read, trace_id: str) -> dict[str, Any]:
    return _visible(request, who, trace_id).to_dict()


@router.get("/trace/{trace_id}", summary="Alias of /traces/{trace_id}")
def get_trace_alias(request: Request, who: Read, trace_id: str) -> dict[str, Any]:
    return _visible(request, who, trace_id).to_dict()


@router.get("/compare", summary="Run b against run a")
def compare(request: Request, who: Read, a: str, b: str) -> dict[str, Any]:
    from glassbox.analysis.compare import compare_traces

    return compare_traces(_visible(request, who, a), _visible(request, who, b))


@router.get("/summary")
def summary(request: Request, who: Read, filters: Filters) -> dict[str, Any]:
    return _q(request).summary(**_scoped(filters, who))


@router.get("/latency")
def latency(
    request: Request,
    who: Read,
    filters: Filters,
    by: Literal["workflow", "stage", "model"] = "workflow",
    percentiles: Annotated[str, Query(pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$")] = "50,95,99",
) -> list[dict[str, Any]]:
    ps = [float(p) for p in percentiles.split(",")]
    return _q(request).latency(by=by, percentiles=ps, **_scoped(filters, who))


@router.get("/costs")
def costs(
    request: Request,
    who: Read,
    project: str | None = None,
    by: Literal["model", "workflow", "stage", "day"] = "model",
    days: Annotated[float, Query(gt=0, le=3650)] = 7,
) -> dict[str, Any]:
    return _q(request).cost_stats(by=by, days=days, project=who.filter_project(project))


@router.get("/decisions")
def decisions(
    request: Request, who: Read, filters: Filters, min_runs: Annotated[int, Query(ge=1, le=1_000_000)] = 1
) -> list[dict[str, Any]]:
    return _q(request).decisions(min_runs=min_runs, **_scoped(filters, who))


@router.get("/failures")
def failures(
    request: Request, who: Read, filters: Filters, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[dict[str, Any]]:
    return _q(request).failed_stages(limit=limit, **_scoped(filters, who))


@router.get("/principles")
def principles(
    request: Request,
    who: Read,
    filters: Filters,
    min_runs: Annotated[int, Query(ge=1, le=1_000_000)] = 3,
    threshold: Annotated[float, Query(ge=0, le=1)] = GAP_RATIO,
) -> dict[str, Any]:
    return _q(request).principle_patterns(min_runs=min_runs, threshold=threshold, **_scoped(filters, who))


@router.get("/group", summary="Runs grouped by one dimension, with aggregate figures")
def group(
    request: Request,
    who: Read,
    filters: Filters,
    by: GroupDim = "workflow",
    metrics: Annotated[
        str,
        Query(
            description="comma-separated: runs, complete, failed, success_rate, "
            "avg_duration_ms, max_duration_ms, total_cost_usd, avg_cost_usd, "
            "avg_quality, pass_rate, tokens_in, tokens_out, flagged; feedback: "
            "feedback, avg_rating, positive_share, negative_share, avg_sentiment"
        ),
    ] = "runs,success_rate,avg_duration_ms,avg_cost_usd,avg_quality",
) -> list[dict[str, Any]]:
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    return _q(request).group_by(by, names, **_scoped(filters, who))


@router.get("/quality", summary="Quality score trend by day (optionally split by a dimension)")
def quality(
    request: Request,
    who: Read,
    filters: Filters,
    days: Annotated[float, Query(gt=0, le=3650)] = 30,
    by: GroupDim | None = None,
) -> list[dict[str, Any]]:
    return _q(request).quality_trend(days=days, by=by, **_scoped(filters, who))


@router.get("/review", summary="Runs flagged for review, newest first")
def review_queue(
    request: Request, who: Read, filters: Filters, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return _q(request).flagged_for_review(limit=limit, **_scoped(filters, who))


class ReviewIn(BaseModel):
    flagged: bool | None = Field(None, description="flag (true) or clear (false) the run for review")
    notes: str | None = Field(None, max_length=10_000)


@router.post("/traces/{trace_id}/review", summary="Flag a run for review, clear it, or write review notes")
def set_review(request: Request, who: Write, trace_id: str, body: ReviewIn) -> dict[str, Any]:
    from glassbox.errors import QueryError

    if body.flagged is None and body.notes is None:
        raise QueryError("give flagged and/or notes")
    t = _visible(request, who, trace_id)
    request.app.state.store.set_review(t.trace_id, flagged=body.flagged, notes=body.notes)
    return {
        "trace_id": t.trace_id,
        "flagged_for_review": body.flagged if body.flagged is not None else t.flagged_for_review,
        "review_notes": body.notes if body.notes is not None else t.review_notes,
    }


# /flags and /flags/{id}/ack: aliases of /alerts in glassbox.server.monitoring_routes.


class ScoreIn(BaseModel):
    trace_id: str = Field(min_length=4, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    value: float = Field(allow_inf_nan=False)
    max: float | None = Field(None, allow_inf_nan=False)
    passed: bool | None = None
    dimensions: dict[str, float] = Field(default_factory=dict)
    comment: str | None = Field(None, max_length=10_000)
    source: Literal["human", "llm_judge", "rule", "sdk", "heuristic"] = "human"


_RATING = (
    "explicit: a number on `scale` (default 0-1; a number above 1 and up to 5 reads as 1-5 stars), "
    "or true/false, 'up'/'down' with scale 'thumbs'"
)
_SCALE = "'thumbs', '1-5', [1, 10]: the rating's scale, stored with it and normalised to 0..1 for aggregates"
_SIGNAL = f"implicit: {', '.join(SIGNALS)} or a name of your own (lowercase, digits, _ . : -)"
_SENTIMENT = "override: positive, neutral, negative or -1..1 (default: from the rating, comment or signal)"


class FeedbackIn(BaseModel):
    trace_id: str = Field(min_length=4, max_length=32)
    kind: Literal["explicit", "implicit"] | None = Field(
        None, description="default: explicit with a rating or comment, implicit with only a signal"
    )
    rating: bool | float | str | None = Field(None, description=_RATING)
    scale: str | tuple[float, float] | None = Field(None, description=_SCALE)
    signal: str | None = Field(None, max_length=64, description=_SIGNAL)
    comment: str | None = Field(None, max_length=10_000)
    sentiment: str | float | None = Field(None, description=_SENTIMENT)
    user_id: str | None = Field(None, max_length=200)


@router.post("/scores", status_code=201, summary="Score a run (people, judges)")
def post_score(request: Request, who: Write, body: ScoreIn) -> dict[str, Any]:
    t = _visible(request, who, body.trace_id)
    if not all(math.isfinite(v) for v in body.dimensions.values()):
        raise ValueError("dimensions must be finite numbers")
    sc = Score(
        new_record_id(),
        body.name,
        body.value,
        body.max,
        body.passed,
        body.source,
        body.dimensions,
        body.comment,
        None,
        time.time_ns(),
    )
    add_score(request.app.state.store, t.trace_id, sc)
    return {"trace_id": t.trace_id, **sc.to_dict()}


@router.post("/feedback", status_code=201, summary="Explicit rating/comment or implicit signal for a run")
def post_feedback(request: Request, who: Write, body: FeedbackIn) -> dict[str, Any]:
    from glassbox.errors import QueryError
    from glassbox.user_feedback import assess

    if body.kind == "implicit" and body.signal is None:
        raise QueryError(f"signal: implicit feedback needs a signal ({', '.join(SIGNALS)} or your own)")
    if body.kind == "explicit" and body.rating is None and not body.comment:
        raise QueryError("explicit feedback needs a rating or a comment")
    try:
        f = assess(
            rating=body.rating, scale=body.scale, comment=body.comment, signal=body.signal, sentiment=body.sentiment
        )
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    t = _visible(request, who, body.trace_id)
    fb = Feedback(
        new_record_id(),
        body.kind or f["kind"],
        f["rating"],
        f["signal"],
        body.comment,
        f["sentiment"],
        body.user_id,
        time.time_ns(),
        f["scale"],
        f["normalized"],
        f["label"],
    )
    add_feedback(request.app.state.store, t.trace_id, fb)
    _to_trail(request, annotation(t.trace_id, t.project, fb, start_ns=t.start_ns or 0))
    return {"trace_id": t.trace_id, **fb.to_dict()}


_trail_lock = threading.Lock()
_trail_log = RateLimitedLog(30.0)


def _to_trail(request: Request, note: Trace) -> None:
    """Append ``note`` to the server's audit trail, if it has one (``create_app(trail_dir=…)``), as the SDK's
    trail holds the feedback it records. After the store, and a failure is logged, not answered: the sender's
    retry would store the feedback twice."""
    trail = request.app.state.trail
    if trail is None:
        return
    try:
        with _trail_lock:
            trail.write([note])
    except OSError as exc:
        _trail_log.warning(
            "trail", "glassbox serve: feedback not written to the audit trail %s: %s", trail.directory, exc
        )


class ExplicitIn(BaseModel):
    trace_id: str = Field(min_length=4, max_length=32)
    rating: bool | float | str | None = Field(None, description=_RATING)
    scale: str | tuple[float, float] | None = Field(None, description=_SCALE)
    comment: str | None = Field(None, max_length=10_000)
    sentiment: str | float | None = Field(None, description=_SENTIMENT)
    user_id: str | None = Field(None, max_length=200)


class ImplicitIn(BaseModel):
    trace_id: str = Field(min_length=4, max_length=32)
    signal: str = Field(max_length=64, description=_SIGNAL)
    sentiment: str | float | None = Field(None, description=_SENTIMENT)
    user_id: str | None = Field(None, max_length=200)


@router.post("/feedback/explicit", status_code=201, summary="Explicit feedback: a rating and/or a comment")
def post_explicit(request: Request, who: Write, body: ExplicitIn) -> dict[str, Any]:
    return post_feedback(request, who, FeedbackIn(kind="explicit", **body.model_dump()))


@router.post("/feedback/implicit", status_code=201, summary="Implicit signal: re_query, skip, accept, click, share")
def post_implicit(request: Request, who: Write, body: ImplicitIn) -> dict[str, Any]:
    return post_feedback(request, who, FeedbackIn(kind="implicit", **body.model_dump()))


@router.get("/feedback/summary")
def get_feedback_summary(
    request: Request, who: Read, project: str | None = None, since: str | None = None
) -> dict[str, Any]:
    from glassbox.analysis.filters import parse_time

    return feedback_summary(
        request.app.state.store,
        project=who.filter_project(project),
        since=parse_time(since, "since") if since else None,
    )
