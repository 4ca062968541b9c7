"""Per-node figures of one run (the performance and cost breakdown), for the CLI and the dashboard."""

from __future__ import annotations

from typing import Any

from glassbox.model import Trace


def node_rows(trace: Trace) -> list[dict[str, Any]]:
    """One row per stage below the root, slowest first: duration, share of the run, tokens, cost."""
    total = trace.duration_ms or 0.0
    rows = []
    for s in trace.spans:
        if s.span_id == trace.root_span_id:
            continue
        attrs = s.attributes or {}
        rows.append(
            {
                "node": s.name,
                "kind": s.kind,
                "span_id": s.span_id,
                "status": s.status,
                "duration_ms": s.duration_ms,
                "percent": round(100.0 * s.duration_ms / total, 1) if total and s.duration_ms is not None else None,
                "model": s.model,
                "tokens_in": s.tokens_in,
                "tokens_out": s.tokens_out,
                "cost_usd": s.cost_usd,
                "cost_source": attrs.get("glassbox.cost.source"),
            }
        )
    rows.sort(key=lambda r: (-(r["duration_ms"] or 0.0), r["node"]))
    return rows
