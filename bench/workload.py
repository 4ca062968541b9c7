"""The traces the writer and memory benchmarks record: the shape of a small AI pipeline run.

Each trace has ``STAGES`` stages under its root; each stage sets three attributes and
records one decision (with two scored alternatives and an input). A trace thus
writes ``STAGES + 1`` span rows (the root is a span too) and ``STAGES`` decision rows.
"""

from __future__ import annotations

from typing import Any

import glassbox as gb

STAGES = 10
SPANS_PER_TRACE = STAGES + 1
KINDS = ("retrieval", "llm", "tool", "stage")
STAGE_NAMES = tuple(f"stage-{i}" for i in range(STAGES))


def record(count: int, decisions: bool = True) -> None:
    """Record ``count`` traces through the public SDK (into whatever glassbox is configured with)."""
    for i in range(count):
        with gb.trace({"question": f"question {i}"}, workflow="bench", intent="lookup") as t:
            for j in range(STAGES):
                with gb.stage(STAGE_NAMES[j], KINDS[j % 4]) as s:
                    s.set(a=1, b="x", c=2.5)
                    if decisions:
                        s.decision(
                            "route",
                            why="best score",
                            confidence=0.8,
                            alternatives=[("retrieve", 0.8), ("answer", 0.2)],
                            inputs={"step": j},
                        )
            t.output = f"answer {i}"


def build_traces(count: int) -> list[Any]:
    """Finished, writer-prepared Trace objects made by the real SDK (captured in memory)."""
    from glassbox.testing import capture

    # Without heuristic signals or calibration: the rows written are exactly those the baseline writes.
    with capture(queue_policy="block", queue_size=max(count, 1), heuristics=False, calibration=False) as traces:
        record(count)
    if len(traces) != count:
        raise RuntimeError(f"captured {len(traces)} of {count} traces")
    return list(traces)
