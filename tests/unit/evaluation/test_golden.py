"""Golden traces: capture from a real SDK run, diffs of stage trees, decisions, figures; templates; JSONL."""

from __future__ import annotations

import pytest

import glassbox as gb
from glassbox.errors import TraceNotFound
from glassbox.evaluation import golden
from glassbox.evaluation.datasets import DatasetError
from glassbox.evaluation.golden import Golden, GoldenNotFound, GoldenTraceMissing, diff_stages
from glassbox.model import Span, Trace


def rag(question, *, rerank=True, chunk="by_heading", conf=0.9, answer="Refunds take 30 days [1].", quality=0.9):
    with gb.trace(question, workflow="rag") as t:
        with gb.stage("retrieve", kind="retrieval"):
            gb.decision(chunk, confidence=conf)
        if rerank:
            with gb.stage("rerank"):
                pass
        with gb.stage("generate", kind="llm"):
            pass
        t.output = answer
        gb.score("quality", quality, max=1.0)
        return t.trace_id


def test_capture_and_compare_runs(configured, store):
    ref = rag("refund?")
    same = rag("refund?")
    changed = rag("refund?", rerank=False, chunk="fixed", answer="No idea.", quality=0.6)
    gb.flush()
    g = golden.capture(store, ref, "refund-policy", metadata={"owner": "ops"})
    assert g.workflow == "rag" and g.snapshot["trace_id"] == ref
    ok = golden.compare(g, store.get_trace(same))
    assert ok.ok, ok.breaches
    bad = golden.compare(g, store.get_trace(changed))
    assert bad.missing == ["rerank (stage)"]
    assert bad.decisions == [{"stage": "retrieve", "golden": "by_heading", "run": "fixed", "change": "what"}]
    assert bad.figures["similarity"]["run"] < 0.5
    assert any(b.startswith("quality 0.6 below 0.85") for b in bad.breaches)
    assert any(b.startswith("output similarity") for b in bad.breaches)
    # golden check: recent runs of the workflow against their golden
    diffs = golden.check(store, since="1h")
    assert sorted(d.ok for d in diffs) == [False, True]


def test_confidence_beyond_tolerance(configured, store):
    ref = rag("q", conf=0.9)
    drift = rag("q", conf=0.6)
    gb.flush()
    g = golden.capture(store, ref, "conf", tolerances={"confidence": 0.1})
    d = golden.compare(g, store.get_trace(drift))
    assert d.decisions[0]["change"] == "confidence"
    assert "confidence 0.90 -> 0.60" in d.breaches[0]


def _trace(stages, duration_ms=100.0, output="x"):
    t = Trace("c" * 32, "t", 0)
    t.end_ns = int(duration_ms * 1e6)
    root = Span(t.trace_id, "0" * 15 + "1", None, "t", "trace", 0)
    t.root_span_id, t.spans, t.output = root.span_id, [root], output
    for i, (name, kind) in enumerate(stages):
        t.spans.append(Span(t.trace_id, f"{i + 2:016x}", root.span_id, name, kind, 10 + i))
    return t


def test_stage_diff_missing_extra_reordered():
    g = [("retrieve", "retrieval"), ("rerank", "stage"), ("generate", "llm")]
    r = [("rerank", "stage"), ("retrieve", "retrieval"), ("generate", "llm"), ("cite", "tool")]
    missing, extra, reordered = diff_stages(g, r)
    assert missing == [] and extra == ["cite (tool)"] and reordered == ["retrieve (retrieval)"]
    assert diff_stages(g, g) == ([], [], [])
    assert diff_stages([*g, ("generate", "llm")], g)[0] == ["generate (llm)"]


def test_latency_and_cost_tolerances():
    ref = _trace([("a", "stage")], duration_ms=100)
    g = Golden("g", snapshot=ref.to_dict(), tolerances={"latency": "+20%"})
    assert golden.compare(g, _trace([("a", "stage")], duration_ms=119)).ok
    slow = golden.compare(g, _trace([("a", "stage")], duration_ms=121))
    assert slow.breaches == ["latency 121 above 120 (golden 100, tolerance +20%)"]


def test_templates():
    g = Golden("shape", template="rag")
    assert golden.compare(g, _trace([("search", "retrieval"), ("rerank docs", "stage"), ("answer", "llm")])).ok
    d = golden.compare(g, _trace([("search", "retrieval"), ("answer", "llm")]))
    assert d.missing == ["rerank (*)"]
    loop = Golden("agent", template="agent_loop")
    steps = [("plan", "agent"), ("search", "tool"), ("observe", "stage")] * 2
    assert golden.compare(loop, _trace(steps)).ok
    assert not golden.compare(loop, _trace([("plan", "agent"), ("observe", "stage")])).ok


def test_export_import_and_errors(store, tmp_path):
    ref = _trace([("a", "stage")])
    store.write_traces([ref])
    golden.capture(store, ref.trace_id, "one")
    golden.template(store, "shape", "rag", workflow="rag")
    text = golden.export_jsonl(golden.list_goldens(store))
    golden.delete_golden(store, "one")
    with pytest.raises(GoldenNotFound):
        golden.get(store, "one")
    done = golden.import_jsonl(store, text)
    assert [g.name for g in done] == ["one", "shape"]
    assert golden.get(store, "one").snapshot["trace_id"] == ref.trace_id
    with pytest.raises(DatasetError, match="line 2"):
        golden.import_jsonl(store, '{"name": "ok"}\n{"nope": 1}\n')
    assert {g.name for g in golden.list_goldens(store)} == {"one", "shape"}  # nothing half-written
    with pytest.raises(TraceNotFound):
        golden.capture(store, "f" * 32, "gone")
    orphan = Golden("orphan", trace_id="e" * 32)
    with pytest.raises(GoldenTraceMissing, match="no longer in the store"):
        orphan.reference(store)
    with pytest.raises(Exception, match="unknown template"):
        golden.template(store, "x", "pyramid")
