"""Scorers run on every finished run in the background; calibration rules raise alerts on patterns across runs.

    python examples/scorers_and_alerts.py       # self-contained: a store in a temporary folder, no network
    glassbox alerts --store sqlite:///…         # the command it prints at the end

Five runs of a small search pipeline: a sync scorer (pass/fail), an async "judge" returning
dimensions, a user calibration rule, and the built-in rules (a principle that keeps failing, a
quality gate that regresses). It prints each run's scores and signals, then the alerts raised.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import glassbox as gb
from glassbox.store.alerts import list_alerts
from glassbox.store.store import Store


@gb.scorer("cites_sources")
def cites_sources(trace: gb.Trace) -> bool:
    """Pass when the answer cites at least one source."""
    return "[1]" in str(trace.output)


@gb.scorer("rubric", source="llm_judge")
async def rubric(trace: gb.Trace) -> dict[str, float]:
    """An async judge (a stand-in: no network) scoring dimensions; the score's value is their mean."""
    await asyncio.sleep(0)
    answer = str(trace.output)
    return {"completeness": 0.3 if len(answer) < 20 else 0.9, "clarity": 0.8}


@gb.calibration_rule("apologies")
def apologies(trace: gb.Trace, query) -> str | None:
    """A user rule: any run whose answer apologises is worth a look."""
    if "sorry" in str(trace.output).lower():
        return f"the assistant apologised in run {trace.trace_id[:12]}"
    return None


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="glassbox-alerts-"))
    url = f"sqlite:///{folder}/glassbox.db"
    gb.configure(
        project="alerts-example",
        store=url,
        trail_dir=str(folder / "traces"),
        calibration_alerts_file=str(folder / "calibration_alerts.md"),
    )

    answers = [  # (answer, the pipeline's own gate verdict)
        ("Refunds take 30 days [1]; see https://example.com/refunds.", True),
        ("short", False),
        ("short", False),
        ("Sorry, I can't help with that.", False),
        ("short again", False),
    ]
    runs = []
    for i, (answer, passed) in enumerate(answers):
        with gb.trace(f"question {i}", workflow="search_qa", intent="lookup") as t:
            with gb.stage("retrieval", kind="retrieval"):
                pass
            with gb.stage("synthesis", kind="llm"):
                pass
            grounding = 0.9 if passed else 0.3
            gb.score("quality", (grounding + 0.8) / 2, passed=passed, dimensions={"grounding": grounding, "tone": 0.8})
            t.output = answer
        runs.append(t)
    gb.flush()  # the writer has scored every run, stored it, and run the calibration rules

    store = Store(url)
    for t in runs:
        stored = store.get_trace(t.trace_id)
        judged = {s.name: round(s.value, 2) for s in stored.scores if s.source != "heuristic"}
        signals = {s.name: s.value for s in stored.scores if s.source == "heuristic"}
        print(f"run {t.trace_id[:12]}  scores {judged}")
        print(
            f"                  signals citation_count={signals['citation_count']:g} "
            f"has_search={signals['has_search']:g} answer_length={signals['answer_length']:g}"
        )
    print()
    alerts = list_alerts(store, source="calibration", project="alerts-example")
    for alert in reversed(alerts):
        print(f"[CALIBRATION] {alert.rule}: {alert.message}")
    print(f"\n{len(alerts)} alerts; also in {folder / 'calibration_alerts.md'}")
    print(f"look further: glassbox alerts --store {url}")
    gb.shutdown()


if __name__ == "__main__":
    main()
