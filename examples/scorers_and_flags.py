"""Scorers run on every finished run in the background; calibration rules flag patterns across runs.

    python examples/scorers_and_flags.py     # then: glassbox flags
"""

from __future__ import annotations

import glassbox as gb
from glassbox.store.alerts import list_alerts
from glassbox.store.store import Store


@gb.scorer("cites_sources")
def cites_sources(trace: gb.Trace) -> bool:
    """Pass when the answer cites at least one source."""
    return "[1]" in str(trace.output)


@gb.scorer("rubric")
async def rubric(trace: gb.Trace) -> dict[str, float]:
    """An async judge (here a stand-in) returning scores per dimension."""
    return {"completeness": 0.4 if "short" in str(trace.output) else 0.9, "clarity": 0.8}


@gb.calibration_rule("apologies")
def apologies(trace: gb.Trace, query) -> str | None:
    if "sorry" in str(trace.output).lower():
        return f"the assistant apologised in run {trace.trace_id[:12]}"
    return None


gb.configure(project="flags-example")
answers = ["Refunds take 30 days [1].", "short", "short", "Sorry, I can't help with that.", "short"]
for i, answer in enumerate(answers):
    with gb.trace(f"question {i}", workflow="search_qa") as t:
        with gb.stage("synthesis", kind="llm"):
            pass
        gb.score("quality", 0.5, passed=False, dimensions={"completeness": 0.3 if "short" in answer else 0.9})
        t.output = answer
gb.flush()  # the writer has now scored every run and run the calibration rules

store = Store("sqlite:///.glassbox/glassbox.db")
last = store.get_trace(t.trace_id)
print("scores of the last run:", {s.name: s.value for s in last.scores if s.source != "heuristic"})
for flag in list_alerts(store, source="calibration", project="flags-example"):
    print(f"[{flag.rule}] {flag.message}")
