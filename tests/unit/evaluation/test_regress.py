"""Regression runs: every case a tagged trace, assertions, evaluators, stored results, compare, reports."""

from __future__ import annotations

import asyncio
import threading
from xml.etree import ElementTree as ET

import pytest

import glassbox as gb
from glassbox.analysis.query import Query
from glassbox.evaluation import datasets, regress
from glassbox.evaluation.datasets import Case, Dataset
from glassbox.evaluation.evaluators import ExactMatch
from glassbox.evaluation.regress import TargetError, compare_runs, load_run, run_regression
from glassbox.evaluation.reports import json_report, junit_xml

CASES = [
    Case(
        "good",
        "What is Python?",
        question="What is Python?",
        expected_workflow="search_qa",
        expected_fields=["final_answer", "citations"],
        quality_thresholds={"min_answer_length": 50},
    ),
    Case("short", "hi", expected_fields=["final_answer", "sources"], quality_thresholds={"min_answer_length": 500}),
    Case("boom", "boom"),
    Case("exact", "echo", expected_output="echo"),
]


def pipeline(question):
    with gb.stage("retrieve", kind="retrieval"):
        gb.decision("use bm25", confidence=0.8)
    with gb.trace(question, workflow="search_qa"):
        pass
    if question == "boom":
        raise RuntimeError("retriever down")
    if question == "echo":
        return "echo"
    return {"final_answer": "Python is a general-purpose programming language [1].", "citations": ["[1]"]}


def test_run_checks_every_case_and_stores_it(store):
    ds, _ = datasets.push(store, CASES, "support")
    run = run_regression(store, ds, pipeline, concurrency=2, evaluators=[ExactMatch()], settings={"trail_dir": None})
    by = {r.case_id: r for r in run.results}
    assert [r.case_id for r in run.results] == ["good", "short", "boom", "exact"]
    assert by["good"].passed and by["good"].workflow == "search_qa"
    assert {a.name for a in by["good"].assertions} == {
        "workflow",
        "field:final_answer",
        "field:citations",
        "min_answer_length",
    }
    assert not by["short"].passed
    assert [a.message for a in by["short"].failures] == [
        "output has no field 'sources'",
        "answer_length 53, expected >= 500",
    ]
    assert by["boom"].error == "RuntimeError: retriever down" and not by["boom"].passed
    assert by["exact"].passed and by["exact"].scores["exact_match"] == 1.0
    assert (run.passed, run.failed, run.errors, run.status) == (2, 1, 1, "failed")

    # each case is a stored trace tagged with the run and the case; the evaluator's score is on it
    q = Query(store)
    tagged = q.traces(tag=[f"regress:{run.run_id}"], limit=10).items
    assert len(tagged) == 4
    exact = q.trace(by["exact"].trace_id)
    assert "case:exact" in exact.tags and exact.metadata["regress_run"] == run.run_id
    assert any(s.name == "exact_match" and s.value == 1.0 for s in exact.scores)
    assert q.trace(by["boom"].trace_id).status == "failed"

    loaded = load_run(store, run.run_id[:8])
    assert loaded.to_dict()["summary"] == run.to_dict()["summary"]
    assert [a.name for a in loaded.results[1].failures] == ["field:sources", "min_answer_length"]
    assert regress.list_runs(store)[0]["run_id"] == run.run_id


def test_async_target_and_bounded_concurrency(store):
    running = 0
    peak = 0
    lock = threading.Lock()

    async def answer(question):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        await asyncio.sleep(0.01)
        with lock:
            running -= 1
        return {"final_answer": question * 60}

    cases = [Case(f"c{i}", f"q{i}", quality_thresholds={"min_answer_length": 100}) for i in range(12)]
    run = run_regression(store, Dataset("many", cases), answer, concurrency=3, settings={"trail_dir": None})
    assert run.ok and len(run.results) == 12
    assert peak == 3


def test_ceilings_apply_to_every_case(store):
    run = run_regression(
        store,
        Dataset("one", [Case("a", "x")]),
        lambda q: "ok",
        max_cost_usd=1.0,
        max_latency_ms=60_000,
        settings={"trail_dir": None},
    )
    assert run.ok
    assert {a.name for a in run.results[0].assertions} == {"max_cost_usd", "max_latency_ms"}
    over = run_regression(
        store,
        Dataset("one", [Case("a", "x", quality_thresholds={"max_latency_ms": -1})]),
        lambda q: "ok",
        settings={"trail_dir": None},
    )
    assert not over.ok and over.results[0].failures[0].name == "max_latency_ms"


def test_compare_two_runs(store):
    ds = Dataset("support", CASES)
    a = run_regression(store, ds, pipeline, settings={"trail_dir": None})

    def better(question):
        return {"final_answer": "x" * 600, "citations": [], "sources": []} if question != "echo" else "nope"

    b = run_regression(store, ds, better, settings={"trail_dir": None})
    diff = compare_runs(load_run(store, a.run_id), load_run(store, b.run_id))
    changes = {c["case_id"]: c["change"] for c in diff["cases"]}
    assert changes == {"good": "regressed", "short": "fixed", "boom": "fixed", "exact": "still_passing"}
    good = next(c for c in diff["cases"] if c["case_id"] == "good")
    assert good["new_failures"] == ["workflow"]


def test_reports(store):
    run = run_regression(store, Dataset("support", CASES), pipeline, settings={"trail_dir": None})
    root = ET.fromstring(junit_xml(run))
    suite = root.find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = {tc.get("name"): tc for tc in suite.findall("testcase")}
    assert cases["short"].find("failure").get("message").startswith("output has no field 'sources'")
    assert cases["boom"].find("error").get("type") == "RuntimeError"
    assert cases["good"].find("failure") is None
    import json

    doc = json.loads(json_report(run))
    assert doc["summary"]["passed"] == 2 and doc["results"][2]["status"] == "error"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nomodule_xyz:fn", "cannot import 'nomodule_xyz'"),
        ("json:nope", "has no attribute 'nope'"),
        ("json", "expected module:callable"),
        ("json:__name__", "not a callable"),
    ],
)
def test_bad_targets(spec, message):
    with pytest.raises(TargetError, match=message):
        regress.resolve_target(spec)


def test_the_configuration_is_restored_after_a_run(store, tmp_path):
    gb.configure(store=None, trail_dir=None, project="mine")
    run_regression(store, Dataset("one", [Case("a", "x")]), lambda q: "ok", settings={"trail_dir": None})
    from glassbox import runtime

    assert runtime.current().project == "mine"


def test_a_case_can_name_the_golden_its_run_must_match(store):
    from glassbox.evaluation import golden

    first = run_regression(
        store, Dataset("g", [Case("ref", "What is Python?")]), pipeline, settings={"trail_dir": None}
    )
    golden.capture(store, first.results[0].trace_id, "python")

    def without_retrieval(question):
        return {"final_answer": "Python is a general-purpose programming language [1].", "citations": ["[1]"]}

    cases = [Case("same", "What is Python?", golden="python"), Case("gone", "What is Python?", golden="nope")]
    again = run_regression(store, Dataset("g", cases[:1]), pipeline, settings={"trail_dir": None})
    assert again.ok, [a.message for a in again.results[0].failures]
    changed = run_regression(store, Dataset("g", cases), without_retrieval, settings={"trail_dir": None})
    same, gone = changed.results
    assert same.failures[0].name == "golden:python"
    assert "missing stages: retrieve (retrieval)" in same.failures[0].message
    assert gone.failures[0].message.startswith("no golden 'nope'")
