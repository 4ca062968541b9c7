"""Seeded runs for drift tests: confidence and quality per release, at chosen times in the past."""

from __future__ import annotations

import time

import numpy as np

from glassbox.ids import new_record_id, new_span_id, new_trace_id
from glassbox.model import Decision, Score, Span, Trace

HOUR_NS = 3600 * 10**9


def run(
    hours_ago: float,
    *,
    confidence: float,
    quality: float,
    release: str = "v1",
    workflow: str = "recommend",
    project: str = "default",
    decision: str = "ml_validated",
) -> Trace:
    start = time.time_ns() - int(hours_ago * HOUR_NS)
    t = Trace(new_trace_id(), "query", start)
    t.end_ns = start + 120_000_000
    t.project, t.workflow, t.release, t.status = project, workflow, release, "complete"
    root = Span(t.trace_id, new_span_id(), None, "query", "trace", start)
    root.end_ns, root.status = t.end_ns, "ok"
    t.root_span_id = root.span_id
    t.spans = [root]
    t.decisions = [Decision(new_record_id(), decision, "rule", confidence, [], {}, root.span_id, "validate", start)]
    t.scores = [Score(new_record_id(), "quality", quality, 1.0, quality >= 0.5, "rule", at_ns=start)]
    return t


def seed(
    store,
    *,
    n_ref: int = 200,
    n_cur: int = 80,
    shift: float = 0.0,
    release_cur: str = "v1",
    seed: int = 0,
    project: str = "default",
) -> None:
    """Reference runs 2-7 days ago, current runs in the last 20 hours; confidence shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    batch = [
        run(
            float(rng.uniform(48, 160)),
            confidence=float(np.clip(rng.normal(0.8, 0.05), 0, 1)),
            quality=float(rng.uniform(0.6, 0.9)),
            project=project,
        )
        for _ in range(n_ref)
    ]
    batch += [
        run(
            float(rng.uniform(1, 20)),
            confidence=float(np.clip(rng.normal(0.8 - shift, 0.05), 0, 1)),
            quality=float(rng.uniform(0.6, 0.9)),
            release=release_cur,
            project=project,
        )
        for _ in range(n_cur)
    ]
    store.write_traces(batch)
