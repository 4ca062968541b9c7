"""Hand-built run histories whose answers are known, for the query API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from glassbox.model import Decision, Score, Span, Trace

NOW = datetime(2026, 11, 24, 12, 0, 0)


def ns(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp() * 1e9)


def make_run(
    i: int,
    *,
    ago: timedelta = timedelta(hours=1),
    workflow: str = "qa",
    intent: str = "lookup",
    domain: str = "billing",
    status: str = "complete",
    duration_ms: float = 100.0,
    stages: list[tuple[str, float, str]] | None = None,
    decisions: list[tuple[str, str, float]] = (),
    quality: float | None = None,
    passed: bool | None = None,
    dims: dict[str, float] | None = None,
    cost: float | None = None,
    tags: list[str] = (),
    metadata: dict[str, Any] | None = None,
    text: str = "question",
    output: str | None = None,
    model: str | None = None,
    project: str = "p",
    flagged: bool = False,
    now: datetime = NOW,
) -> Trace:
    """A run: stages as (name, ms, status), decisions as (stage, what, confidence).

    `ago` counts back from the fixed NOW, or from `now` for tests that go through the CLI,
    whose relative windows ("7d", "30d") count back from the real clock."""
    t = Trace(f"{i:032x}", workflow)
    t.project, t.workflow, t.intent, t.domain, t.status = project, workflow, intent, domain, status
    t.input, t.output, t.tags, t.metadata = text, output, list(tags), dict(metadata or {})
    t.flagged_for_review = flagged
    start = ns(now - ago)
    t.start_ns, t.end_ns = start, start + int(duration_ms * 1e6)
    root = Span(t.trace_id, f"{i:08x}00000000", None, workflow, "trace", start)
    root.end_ns, root.status = t.end_ns, "error" if status == "failed" else "ok"
    t.root_span_id = root.span_id
    t.spans.append(root)
    offset = start
    for j, (name, ms, st) in enumerate(stages or [("retrieve", duration_ms / 2, "ok")]):
        s = Span(t.trace_id, f"{i:08x}{j + 1:08x}", root.span_id, name, "llm" if name == "llm" else "stage", offset)
        s.end_ns, s.status = offset + int(ms * 1e6), st
        if st == "error":
            s.error = {"type": "Timeout", "message": "took too long", "stack": ""}
        if name == "llm":
            s.model, s.cost_usd = model or "gpt-4o-mini", cost
        offset = s.end_ns
        t.spans.append(s)
    for k, (stage, what, conf) in enumerate(decisions):
        sid = next(s.span_id for s in t.spans if s.name == stage)
        t.decisions.append(
            Decision(f"{i:08x}d{k:07x}", what, "because", conf, [("other", 0.1)], {}, sid, stage, start + k)
        )
    if quality is not None:
        t.scores.append(
            Score(f"{i:08x}s0000000", "quality", quality, 1.0, passed, "sdk", dict(dims or {}), None, None, start + 10)
        )
    return t
