"""Stored populations of traces with known shifts, for the gate, canary and golden tests."""

from __future__ import annotations

import numpy as np

from glassbox.model import Score, Span, Trace

BASE_NS = 1_800_000_000 * 10**9  # 2027-01-15: inside any "since" window counted from a fixed past date


def population(
    release: str,
    n: int,
    *,
    seed: int,
    latency: float = 200.0,
    error_rate: float = 0.02,
    quality: float = 0.8,
    cost: float = 0.002,
    start: int = 0,
    project: str = "default",
    now_ns: int | None = None,
) -> list[Trace]:
    rng = np.random.default_rng(seed)
    durations = rng.lognormal(np.log(latency), 0.4, n)
    failed = rng.random(n) < error_rate
    qualities = np.clip(rng.normal(quality, 0.1, n), 0, 1)
    costs = rng.lognormal(np.log(cost), 0.3, n)
    base = now_ns if now_ns is not None else BASE_NS
    out = []
    for i in range(n):
        t = Trace(f"{seed:08x}{start + i:024x}", "answer")
        t.project, t.release, t.workflow = project, release, "qa"
        t.status = "failed" if failed[i] else "complete"
        t.start_ns = base - (n - i) * 1_000_000_000
        t.end_ns = t.start_ns + int(durations[i] * 1e6)
        root = Span(t.trace_id, f"{seed:04x}{start + i:012x}", None, "answer", "trace", t.start_ns)
        root.end_ns, root.status = t.end_ns, "error" if failed[i] else "ok"
        llm = Span(t.trace_id, f"{seed:04x}{start + i:011x}f", root.span_id, "generate", "llm", t.start_ns + 1)
        llm.end_ns, llm.cost_usd, llm.status = t.end_ns - 1, float(costs[i]), "ok"
        t.root_span_id, t.spans = root.span_id, [root, llm]
        t.scores = [
            Score(f"{start + i:016x}", "quality", float(qualities[i]), 1.0, None, "sdk", {}, None, None, t.start_ns + 5)
        ]
        out.append(t)
    return out
