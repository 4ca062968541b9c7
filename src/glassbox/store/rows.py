"""Mapping between the trace model and table rows, both ways."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from glassbox.model import Alert, Decision, Event, Feedback, Score, Span, Trace

_EPOCH = datetime(1970, 1, 1)


def dt(ns: int | None) -> datetime | None:
    """Naive UTC datetime (microseconds) from epoch nanoseconds."""
    if ns is None:
        return None
    return _EPOCH + timedelta(microseconds=ns // 1000)  # exact integer arithmetic, twice as fast as fromtimestamp


def has_nul(value: Any) -> bool:
    """Whether any string in a batch of rows holds NUL: one C-speed pass, so clean batches skip the scrub."""
    import orjson

    try:
        return b"\\u0000" in orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, ValueError):  # something orjson cannot walk: scrub to be safe
        return True


def scrub_nul(value: Any) -> Any:
    """PostgreSQL text and JSONB cannot hold NUL; model output sometimes does. Keep the rest intact."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {scrub_nul(k): scrub_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_nul(v) for v in value]
    return value


def trace_row(t: Trace) -> dict[str, Any]:
    return {
        "trace_id": t.trace_id,
        "project": t.project or "default",
        "service": t.service,
        "name": t.name,
        "input": t.input,
        "output": t.output,
        "workflow": t.workflow,
        "intent": t.intent,
        "domain": t.domain,
        "user_id": t.user_id,
        "session_id": t.session_id,
        "environment": t.environment,
        "release": t.release,
        "status": t.status,
        "error": t.error,
        "started_at": dt(t.start_ns),
        "ended_at": dt(t.end_ns),
        "start_ns": t.start_ns,
        "end_ns": t.end_ns,
        "duration_ms": t.duration_ms,
        "tokens_in": t.tokens_in,
        "tokens_out": t.tokens_out,
        "cost_usd": t.cost_usd,
        "cost_source": t.cost_source,
        "quality_score": t.quality_score,
        "gate_passed": t.gate_passed,
        "experiment": t.experiment,
        "variant": t.variant,
        "flagged_for_review": bool(t.flagged_for_review),
        "review_notes": t.review_notes,
        "tags": list(t.tags),
        "metadata": t.metadata,
        "root_span_id": t.root_span_id,
        "parent_span_id": t.parent_span_id,
        "schema_version": 1,
    }


def span_row(s: Span, project: str | None) -> dict[str, Any]:
    err = s.error or {}
    return {
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_id": s.parent_id,
        "project": project or "default",
        "service": s.service,
        "name": s.name,
        "kind": s.kind,
        "status": s.status,
        "started_at": dt(s.start_ns),
        "start_ns": s.start_ns,
        "end_ns": s.end_ns,
        "duration_ms": s.duration_ms,
        "error_type": err.get("type"),
        "error_message": err.get("message"),
        "error_stack": err.get("stack"),
        "model": s.model,
        "tokens_in": s.tokens_in,
        "tokens_out": s.tokens_out,
        "cost_usd": s.cost_usd,
        "peak_gpu_mem_bytes": s.peak_gpu_mem_bytes,
        "model_loads": s.model_loads,
        "attributes": s.attributes or {},
        "input": s.input,
        "output": s.output,
        "span_kind": s.otel_kind,
        "trace_state": s.trace_state,
        "status_message": s.status_message,
        "links": s.links,
        "resource": s.resource,
        "scope": s.scope,
    }


def decision_row(trace_id: str, d: Decision) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "id": d.id,
        "span_id": d.span_id,
        "stage": d.stage,
        "what": d.what,
        "why": d.why,
        "confidence": d.confidence,
        "alternatives": [{"option": o, "score": s} for o, s in d.alternatives],
        "inputs": d.inputs,
        "at": dt(d.at_ns),
        "at_ns": d.at_ns,
    }


def event_row(trace_id: str, e: Event) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "id": e.id,
        "span_id": e.span_id,
        "name": e.name,
        "payload": e.payload,
        "at": dt(e.at_ns),
        "at_ns": e.at_ns,
    }


def score_row(trace_id: str, s: Score) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "id": s.id,
        "span_id": s.span_id,
        "name": s.name,
        "value": s.value,
        "max": s.max,
        "passed": s.passed,
        "source": s.source,
        "dimensions": s.dimensions,
        "comment": s.comment,
        "at": dt(s.at_ns),
        "at_ns": s.at_ns,
    }


def feedback_row(trace_id: str, f: Feedback) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "id": f.id,
        "kind": f.kind,
        "rating": f.rating,
        "signal": f.signal,
        "comment": f.comment,
        "sentiment": f.sentiment,
        "user_id": f.user_id,
        "at": dt(f.at_ns),
        "at_ns": f.at_ns,
        "scale": f.scale,
        "normalized": f.normalized,
        "label": f.label,
    }


def alert_row(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "project": a.project,
        "source": a.source,
        "rule": a.rule,
        "severity": a.severity,
        "message": a.message,
        "dims": a.dims,
        "trace_id": a.trace_id,
        "at": dt(a.at_ns),
        "at_ns": a.at_ns,
        "acknowledged": a.acknowledged,
    }


def alert_from_row(r: Any) -> Alert:
    return Alert(
        r.id,
        r.source,
        r.rule,
        r.message,
        r.severity,
        r.dims or {},
        r.trace_id,
        r.project,
        r.at_ns or 0,
        bool(r.acknowledged),
        r.state,
        r.dedup_key,
        r.first_seen_ns,
        r.count or 1,
    )


# -- rows -> model ---------------------------------------------------------------------------
def trace_from_rows(
    row: Any,
    spans: list[Any],
    decisions: list[Any],
    events: list[Any],
    scores: list[Any],
    feedback: list[Any],
    alerts: list[Any] = (),  # type: ignore[assignment]
) -> Trace:
    m = row._mapping
    t = Trace(m["trace_id"], m["name"] or "", m["start_ns"] or 0)
    for key in (
        "project",
        "service",
        "input",
        "output",
        "workflow",
        "intent",
        "domain",
        "user_id",
        "session_id",
        "environment",
        "release",
        "status",
        "error",
        "experiment",
        "variant",
        "review_notes",
        "cost_source",
        "root_span_id",
        "parent_span_id",
    ):
        setattr(t, key, m[key])
    t.end_ns = m["end_ns"]
    t.tags = list(m["tags"] or [])
    t.metadata = dict(m["metadata"] or {})
    t.flagged_for_review = bool(m["flagged_for_review"])
    for r in spans:
        sm = r._mapping
        s = Span(t.trace_id, sm["span_id"], sm["parent_id"], sm["name"], sm["kind"], sm["start_ns"])
        s.end_ns = sm["end_ns"]
        s.status = sm["status"]
        s.service = sm["service"]
        if sm["error_type"] is not None or sm["error_message"] is not None:
            s.error = {"type": sm["error_type"], "message": sm["error_message"], "stack": sm["error_stack"]}
        s.attributes = sm["attributes"] or {}
        s.input = sm["input"]
        s.output = sm["output"]
        for key in (
            "model",
            "tokens_in",
            "tokens_out",
            "cost_usd",
            "peak_gpu_mem_bytes",
            "model_loads",
            "trace_state",
            "status_message",
            "links",
            "resource",
            "scope",
        ):
            setattr(s, key, sm[key])
        s.otel_kind = sm["span_kind"]
        t.spans.append(s)
    t.decisions = [
        Decision(
            d.id,
            d.what,
            d.why,
            d.confidence,
            [(a["option"], a.get("score")) for a in d.alternatives or []],
            d.inputs or {},
            d.span_id,
            d.stage,
            d.at_ns or 0,
        )
        for d in decisions
    ]
    t.events = [Event(e.id, e.name, e.payload or {}, e.span_id, e.at_ns or 0) for e in events]
    t.scores = [
        Score(s.id, s.name, s.value, s.max, s.passed, s.source, s.dimensions or {}, s.comment, s.span_id, s.at_ns or 0)
        for s in scores
    ]
    t.feedback = [
        Feedback(
            f.id,
            f.kind,
            f.rating,
            f.signal,
            f.comment,
            f.sentiment,
            f.user_id,
            f.at_ns or 0,
            f.scale,
            f.normalized,
            f.label,
        )
        for f in feedback
    ]
    t.alerts = [alert_from_row(a) for a in alerts]
    return t
