"""Ask the stored runs questions with the query API (the CLI and the server call the same code).

Records a small history first (two retrieval strategies, one of which grounds badly), then asks.
"""

from __future__ import annotations

import random

import glassbox as gb

rng = random.Random(3)
gb.configure(project="query-example", heuristics=False)
for i in range(24):
    strategy = "dense" if i % 3 else "bm25"
    with gb.trace(
        f"question {i}",
        workflow="search_qa",
        intent=rng.choice(["lookup", "compare"]),
        domain=rng.choice(["billing", "legal"]),
        tags=["example"],
    ) as t:
        with gb.stage("retrieve", kind="retrieval"):
            gb.decision(f"use {strategy}", why="router", confidence=0.7, alternatives={"bm25": 0.6, "dense": 0.7})
        grounding = rng.uniform(0.2, 0.5) if strategy == "bm25" else rng.uniform(0.6, 0.95)
        gb.score(
            "quality",
            round((grounding + 0.8) / 2, 2),
            passed=grounding > 0.55,
            dimensions={"grounding": round(grounding, 2), "clarity": 0.8},
        )
        t.output = f"answer {i}"
gb.flush()

q = gb.query()
s = q.summary(project="query-example")
print(
    f"{s['runs']} runs, success {s['success_rate']:.0%}, avg quality {s['avg_quality']:.2f}, "
    f"p95 {s['p95_duration_ms']:.1f} ms"
)
page = q.traces(project="query-example", limit=5, min_score=0.7)
print("5 newest good runs:", [r["trace_id"][:8] for r in page.items], "next cursor:", bool(page.next_cursor))
for d in q.decisions(project="query-example"):
    print(
        f"decision {d['what']!r}: {d['runs']} runs, low quality {d['low_quality_rate']:.0%} "
        f"vs {d['low_quality_rate_without']:.0%} without it"
    )
worst = q.principle_patterns(min_runs=3, project="query-example")["overall"][0]
print(f"principle failing most: {worst['principle']} ({worst['fail_count']}/{worst['runs']} runs)")
a, b = [r["trace_id"] for r in q.traces(project="query-example", limit=2).items]
diff = q.compare(a, b)
print(f"compare: quality {diff['quality_delta']:+.2f}, decisions that differ: {diff['decisions_differ']}")
