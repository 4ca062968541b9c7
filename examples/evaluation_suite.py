"""An evaluation suite: a dataset, a regression run with evaluators, a golden check and a release gate.

    python examples/evaluation_suite.py

Writes a store under .glassbox/ in the current folder and prints what each step found: the regression
run (one case fails its threshold), the JUnit report for CI, a golden trace compared with a changed
run, and a gate between two releases of the pipeline (the second one is slower and fails more).
The same steps from a shell: glassbox dataset push / regress / golden capture / golden check / gate.
"""

from __future__ import annotations

import random
from pathlib import Path

import glassbox as gb
from glassbox.evaluation import Contains, RegexMatch, StringSimilarity

STORE = "sqlite:///.glassbox/evaluation-example.db"

CASES = """\
{"id": "refund", "question": "How long do refunds take?", "expected_workflow": "support_qa", \
"expected_fields": ["final_answer", "citations"], "expected_output": "Refunds are paid within 30 days.", \
"quality_thresholds": {"min_answer_length": 20, "max_latency_ms": 2000}}
{"id": "shipping", "question": "Do you ship to Norway?", "expected_workflow": "support_qa", \
"expected_fields": ["final_answer"], "quality_thresholds": {"min_answer_length": 20}}
"""


def answer(question: str, *, release: str = "v1") -> dict:
    """The pipeline under test: retrieve -> rerank -> generate."""
    with gb.trace(question, workflow="support_qa", release=release):
        with gb.stage("retrieve", kind="retrieval"):
            gb.decision("use bm25", confidence=0.8)
        with gb.stage("rerank"):
            pass
        with gb.stage("generate", kind="llm"):
            if "ship" in question:
                return {"final_answer": "Yes."}  # too short: fails min_answer_length
            return {"final_answer": "Refunds are paid within 30 days [1].", "citations": ["/help/refunds"]}


def answer_without_rerank(question: str) -> dict:
    """The pipeline after a change: dense retrieval, no reranker, a vaguer answer."""
    with gb.trace(question, workflow="support_qa"):
        with gb.stage("retrieve", kind="retrieval"):
            gb.decision("use dense", confidence=0.5)
        with gb.stage("generate", kind="llm"):
            return {"final_answer": "It depends on the order.", "citations": []}


def main() -> None:
    Path("cases.jsonl").write_text(CASES)
    ds = gb.evaluation.push_dataset("cases.jsonl", "support", store=STORE)
    print(f"dataset {ds.name}: {len(ds)} cases, version {ds.version}")

    evaluators = [
        Contains(["30 days"], name="mentions_window"),
        RegexMatch(r"\[\d+\]", name="cites"),
        StringSimilarity(threshold=0.6),
    ]
    run = gb.evaluation.run_regression(
        "support", answer, store=STORE, evaluators=evaluators, settings={"trail_dir": None}
    )
    print(f"regress: {run.passed} passed, {run.failed} failed, {run.errors} errors (run {run.run_id})")
    for r in run.results:
        status = "pass" if r.passed else "FAIL: " + "; ".join(a.message for a in r.failures)
        print(f"  {r.case_id}: {status}")
    from glassbox.evaluation.reports import junit_xml, write

    write("results/junit.xml", junit_xml(run))
    print("wrote results/junit.xml")

    # a golden trace: the passing case; then the same case on a changed pipeline that skips the reranker
    refund = next(r for r in run.results if r.case_id == "refund")
    gb.evaluation.capture_golden(refund.trace_id, "refund-policy", store=STORE)
    changed = gb.evaluation.run_regression(
        [c for c in ds.cases if c.id == "refund"],
        answer_without_rerank,
        store=STORE,
        evaluators=evaluators,
        settings={"trail_dir": None},
    )
    diff = gb.evaluation.compare_golden("refund-policy", changed.results[0].trace_id, store=STORE)
    print(f"golden refund-policy: {'ok' if diff.ok else 'breach'}")
    for b in diff.breaches:
        print(f"  - {b}")

    gb.configure(store=STORE, trail_dir=None)
    # two releases in production: v2 is slower and fails more often
    rng = random.Random(1)
    for release, slow, fail in (("v1", 1.0, 0.02), ("v2", 1.6, 0.15)):
        for i in range(150):
            try:
                with gb.trace(f"q{i}", workflow="support_qa", release=release) as tr:
                    tr.start_ns -= int(rng.lognormvariate(5.3, 0.3) * slow * 1e6)  # simulated latency
                    if rng.random() < fail:
                        raise TimeoutError("model timed out")
            except TimeoutError:
                pass
    gb.flush()
    gb.shutdown()
    verdict = gb.evaluation.run_gate("release=v1", "release=v2", store=STORE, max_error_rate="+2pp", max_p95="+20%")
    print(f"gate v1 -> v2: {verdict.verdict}")
    for reason in verdict.reasons:
        print(f"  - {reason}")


if __name__ == "__main__":
    main()
