"""Two runs side by side (``glassbox compare``): what changed from run A to run B."""

from __future__ import annotations

from typing import Any

from glassbox.model import GAP_RATIO, Score, Trace


def _quality(trace: Trace) -> Score | None:
    """The score the run's quality comes from (the same rule as ``Trace.quality_score``)."""
    return trace._quality()


def _gaps(score: Score | None) -> set[str]:
    if score is None:
        return set()
    limit = GAP_RATIO * (score.max if score.max else 1.0)
    return {k for k, v in score.dimensions.items() if v < limit}


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _stages(trace: Trace) -> dict[str, dict[str, Any]]:
    """Per stage name (below the root): total duration, calls, worst status."""
    out: dict[str, dict[str, Any]] = {}
    for s in trace.spans:
        if s.span_id == trace.root_span_id:
            continue
        entry = out.setdefault(s.name, {"duration_ms": 0.0, "count": 0, "status": "ok", "cost_usd": None})
        entry["duration_ms"] += s.duration_ms or 0.0
        entry["count"] += 1
        if s.status == "error":
            entry["status"] = "error"
        if s.cost_usd is not None:
            entry["cost_usd"] = (entry["cost_usd"] or 0.0) + s.cost_usd
    return out


def _summary(t: Trace) -> dict[str, Any]:
    return {
        "trace_id": t.trace_id,
        "workflow": t.workflow,
        "status": t.status,
        "quality": t.quality_score,
        "cost_usd": t.cost_usd,
        "duration_ms": t.duration_ms,
        "release": t.release,
    }


def compare_traces(a: Trace, b: Trace) -> dict[str, Any]:
    """Deltas are B minus A: a positive quality delta means B is better, a positive cost delta dearer."""
    qa, qb = _quality(a), _quality(b)
    sa, sb = _stages(a), _stages(b)
    stages = []
    for name in sorted(set(sa) | set(sb), key=lambda n: (n not in sa, n not in sb, n)):
        x, y = sa.get(name), sb.get(name)
        stages.append(
            {
                "stage": name,
                "in": "both" if x and y else ("a" if x else "b"),
                "a_ms": x and x["duration_ms"],
                "b_ms": y and y["duration_ms"],
                "delta_ms": _delta(x and x["duration_ms"], y and y["duration_ms"]),
                "a_status": x and x["status"],
                "b_status": y and y["status"],
                "status_changed": bool(x and y and x["status"] != y["status"]),
            }
        )
    decisions = []
    by_stage_a: dict[str, list[str]] = {}
    by_stage_b: dict[str, list[str]] = {}
    for trace, target in ((a, by_stage_a), (b, by_stage_b)):
        for d in trace.decisions:
            target.setdefault(d.stage or "", []).append(d.what)
    for stage in sorted(set(by_stage_a) | set(by_stage_b)):
        wa, wb = by_stage_a.get(stage, []), by_stage_b.get(stage, [])
        if sorted(wa) != sorted(wb):
            decisions.append({"stage": stage, "a": wa, "b": wb})
    dims_a = dict(qa.dimensions) if qa else {}
    dims_b = dict(qb.dimensions) if qb else {}
    gaps_a, gaps_b = _gaps(qa), _gaps(qb)
    return {
        "a": _summary(a),
        "b": _summary(b),
        "quality_delta": _delta(a.quality_score, b.quality_score),
        "cost_delta": _delta(a.cost_usd, b.cost_usd),
        "duration_delta_ms": _delta(a.duration_ms, b.duration_ms),
        "status_changed": a.status != b.status,
        "stages": stages,
        "decisions_differ": decisions,
        "dimension_deltas": {k: _delta(dims_a.get(k), dims_b.get(k)) for k in sorted(set(dims_a) & set(dims_b))},
        "dimensions_a_only": sorted(set(dims_a) - set(dims_b)),
        "dimensions_b_only": sorted(set(dims_b) - set(dims_a)),
        "gaps_a_only": sorted(gaps_a - gaps_b),
        "gaps_b_only": sorted(gaps_b - gaps_a),
    }


__all__ = ["compare_traces"]
