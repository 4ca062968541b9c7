"""The README's first trace: stages, a decision with alternatives, evidence, a scored answer.

python examples/quickstart.py      # then: glassbox show <trace-id> --verbose
"""

from __future__ import annotations

import glassbox as gb

gb.configure(project="support-bot")  # store: .glassbox/glassbox.db, trail: .glassbox/traces/

with gb.trace(
    "What is our refund policy?",
    workflow="search_qa",
    intent="lookup",
    domain="billing",
    user_id="u1",
    session_id="s1",
    tags=["prod"],
    metadata={"release": "2026.11"},
) as t:
    with gb.stage("retrieval", kind="retrieval") as s:
        gb.decision(
            "use bm25",
            why="short keyword query",
            confidence=0.8,
            alternatives={"dense": 0.6, "hybrid": 0.7},
            inputs={"query_len": 5},
        )
        gb.evidence("retrieved", {"collected": 20, "passed": 8})
        s.set(top_k=8)
    with gb.stage("synthesis", kind="llm"):
        answer = "Refunds are accepted within 30 days."
    gb.score("quality", 0.82, passed=True, dimensions={"completeness": 0.9, "clarity": 0.7})
    t.output = answer

gb.flush()  # returns once the trace is in the store and the trail
print(f"trace {t.trace_id}: {t.status}, {len(t.spans)} spans, {len(t.decisions)} decision")
print(f"see it:  glassbox show {t.trace_id[:12]} --verbose")
