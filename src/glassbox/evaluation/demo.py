"""``glassbox demo``'s evaluation section: a small regression run, a golden check and a release gate."""

from __future__ import annotations

from typing import Any

import glassbox as gb

DATASET = "demo-support"
GOLDEN = "demo-refund"
CASES = [
    {
        "id": "refund",
        "question": "How long do refunds take?",
        "expected_workflow": "support_qa",
        "expected_fields": ["final_answer", "citations"],
        "quality_thresholds": {"min_answer_length": 40},
    },
    {
        "id": "refund-again",
        "question": "How long do refunds take, roughly?",
        "expected_workflow": "support_qa",
        "expected_fields": ["final_answer", "citations"],
        "quality_thresholds": {"min_answer_length": 40},
    },
    {
        "id": "shipping",
        "question": "Do you ship to Norway?",
        "expected_workflow": "support_qa",
        "expected_fields": ["final_answer", "citations"],
        "quality_thresholds": {"min_answer_length": 40},
    },
]


def answer(question: str) -> dict[str, Any]:
    """The demo's target: a tiny support pipeline (retrieve -> rerank -> generate)."""
    with gb.trace(question, workflow="support_qa"):
        with gb.stage("retrieve", kind="retrieval"):
            gb.decision("use bm25", why="short question", confidence=0.8)
        if "ship" in question:  # the shipping page is missing: no rerank, a short answer without sources
            with gb.stage("generate", kind="llm"):
                return {"final_answer": "We are not sure.", "citations": []}
        with gb.stage("rerank"):
            pass
        with gb.stage("generate", kind="llm"):
            return {
                "final_answer": "Refunds are paid back within 30 days of the return [1].",
                "citations": ["https://example.com/refunds"],
            }


def section(result: Any, console: Any, store: str | None) -> None:
    if not store or getattr(result, "sink_errors", None):
        return  # no store, or the demo's own runs could not be written to it: nothing to evaluate
    from glassbox.evaluation import datasets, golden
    from glassbox.evaluation.gate import MetricSpec, parse_tolerance, run_gate
    from glassbox.evaluation.regress import run_regression
    from glassbox.store.store import Store

    st = Store(store)
    try:
        ds, _ = datasets.push(st, [datasets.Case.from_dict({**c}) for c in CASES], DATASET, project="demo")
        run = run_regression(st, ds, answer, concurrency=2, project="demo", settings={"trail_dir": None})
        console.print(
            f"[bold]Evaluation[/]  regress {DATASET}: {run.passed} passed, {run.failed} failed, "
            f"{run.errors} errors  (glassbox regress show {run.run_id})"
        )
        for r in run.results:
            if not r.passed:
                console.print(
                    f"            case {r.case_id}: " + "; ".join(a.message for a in r.failures), markup=False
                )
        by = {r.case_id: r for r in run.results}
        g = golden.capture(st, by["refund"].trace_id, GOLDEN, project="demo")
        for case_id in ("refund-again", "shipping"):
            diff = golden.compare(g, st.get_trace(by[case_id].trace_id))
            verdict = "matches" if diff.ok else "BREACH: " + "; ".join(diff.breaches[:2])
            console.print(f"            golden {GOLDEN} vs {case_id}: {verdict}", markup=False)
        specs = [MetricSpec("quality", parse_tolerance("-0.05")), MetricSpec("error_rate", parse_tolerance("+10pp"))]
        from glassbox.demo import NEW_RELEASE, RELEASE

        v = run_gate(st, f"release={RELEASE}", f"release={NEW_RELEASE}", specs, project="demo", min_samples=10)
        figures = ", ".join(f"{m.name} {m.classification}" for m in v.metrics)
        console.print(f"            gate {RELEASE} -> {NEW_RELEASE}: {v.verdict} ({figures})", markup=False)
    finally:
        st.close()
