"""``glassbox demo``'s drift and feedback section: a model release whose confidence drifted, and feedback's trend.

It writes its own seeded runs to project ``demo-drift`` (so the demo's other figures stay as they are):
release v1 over the past three weeks, release v2 in the last day with lower decision confidence and
poorer ratings. Then one drift check (stored and alerted like the server's monitor) and the weekly
feedback trend. Runs are written straight to the store with past start times (the SDK records "now").
"""

from __future__ import annotations

import random
import time
from typing import Any

PROJECT = "demo-drift"
HOUR_NS = 3600 * 10**9
COMMENTS = {
    "positive": ("Great recommendation, thanks!", "Exactly what I needed.", "Love this suggestion"),
    "negative": ("This is wrong and useless.", "Terrible suggestion", "Not helpful at all"),
}


def _run(rng: random.Random, hours_ago: float, release: str, confidence: float) -> Any:
    from glassbox.ids import new_record_id, new_span_id, new_trace_id
    from glassbox.model import Decision, Feedback, Score, Span, Trace
    from glassbox.user_feedback import assess

    start = time.time_ns() - int(hours_ago * HOUR_NS)
    t = Trace(new_trace_id(), "recommend", start)
    t.end_ns = start + int(rng.uniform(80, 240) * 1e6)
    t.project, t.workflow, t.release, t.status = PROJECT, "recommend", release, "complete"
    t.input, t.output = "something warm for a rainy evening", "tomato soup"
    root = Span(t.trace_id, new_span_id(), None, "recommend", "trace", start)
    root.end_ns, root.status = t.end_ns, "ok"
    t.root_span_id, t.spans = root.span_id, [root]
    t.decisions = [
        Decision(
            new_record_id(), "ml_validated", "classifier agreed", confidence, [], {}, root.span_id, "validate", start
        )
    ]
    quality = rng.uniform(0.6, 0.9)
    t.scores = [Score(new_record_id(), "quality", quality, 1.0, quality >= 0.5, "rule", at_ns=start)]
    if rng.random() < 0.6:  # most runs get a rating; v2's are poorer
        stars = rng.choice((4, 5, 5, 4, 3) if release == "v1" else (2, 3, 2, 4, 1))
        comment = rng.choice(COMMENTS["positive" if stars >= 4 else "negative"]) if rng.random() < 0.3 else None
        f = assess(rating=stars, scale=(1, 5), comment=comment)
        t.feedback.append(
            Feedback(
                new_record_id(),
                f["kind"],
                f["rating"],
                None,
                comment,
                f["sentiment"],
                f"user-{rng.randrange(40)}",
                start + 5 * 10**9,
                f["scale"],
                f["normalized"],
                f["label"],
            )
        )
    if rng.random() < 0.3:
        signal = rng.choice(("accept", "share", "click") if release == "v1" else ("re_query", "skip", "accept"))
        f = assess(signal=signal)
        t.feedback.append(
            Feedback(
                new_record_id(),
                "implicit",
                None,
                signal,
                None,
                f["sentiment"],
                None,
                start + 9 * 10**9,
                None,
                None,
                f["label"],
            )
        )
    return t


def seed_runs(store: Any, seed: int = 4) -> int:
    """Release v1 from 21 days to a day ago, v2 (lower confidence) in the last 20 hours."""
    rng = random.Random(seed)
    runs = [_run(rng, rng.uniform(26, 21 * 24), "v1", min(1.0, max(0.0, rng.gauss(0.83, 0.05)))) for _ in range(220)]
    runs += [_run(rng, rng.uniform(0.5, 20), "v2", min(1.0, max(0.0, rng.gauss(0.71, 0.06)))) for _ in range(70)]
    store.write_traces(runs)
    return len(runs)


def section(result: Any, console: Any, store: str | None) -> None:
    """Print a drift check with one drifted field, and feedback's weekly trend."""
    from rich.text import Text

    from glassbox.analysis.feedback import feedback_trend
    from glassbox.monitoring.drift import check
    from glassbox.store.store import Store

    if not store:
        return
    st = Store(store)
    try:
        seed_runs(st)
        report = check(st, ("confidence", "quality_score", "duration_ms"), project=PROJECT)
        weeks = feedback_trend(st, project=PROJECT, weeks=4)
    finally:
        st.close()
    console.print()
    console.print(Text.assemble(("Drift", "bold"), f"  project {PROJECT}: the last 24 h against the 7 days before"))
    for r in report.results:
        style = "bold red" if r.drifted else "green"
        label = f"DRIFT ({r.severity})" if r.drifted else "no drift"
        score = (
            ""
            if r.score is None
            else f"{r.method} {'p' if r.method in ('ks', 'chisquare', 'z') else 'd'}={r.score:.3g}"
        )
        console.print(
            Text.assemble(
                f"  {r.field:<14}", (f"{label:<17}", style), f"{score:<16} {r.n_reference} vs {r.n_current} values"
            )
        )
    if report.drifted:
        r = report.drifted[0]
        console.print(
            Text(
                f"  mean {r.field} {r.details['reference_mean']:.2f} -> {r.details['current_mean']:.2f}; "
                "alert raised (glassbox drift check / the /drift page)",
                "dim",
            )
        )
    console.print(Text.assemble(("Feedback", "bold"), "  per week: average rating (0-1), positive share"))
    for w in weeks:
        rating = "—" if w["avg_rating"] is None else f"{w['avg_rating']:.2f}"
        share = "—" if w["positive_share"] is None else f"{100 * w['positive_share']:.0f}%"
        console.print(Text(f"  {w['week']}  rating {rating}  positive {share:>4}  ({w['feedback']} items)"))
    console.print(
        Text(
            "  try: glassbox drift check --project demo-drift --by release; "
            "glassbox export --dataset feedback --project demo-drift --balance",
            "dim",
        )
    )
